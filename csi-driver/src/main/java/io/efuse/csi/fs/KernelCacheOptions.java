package io.efuse.csi.fs;

import io.efuse.csi.bpf.EfuseCacheProgram;
import io.efuse.csi.bpf.Libbpf;
import io.efuse.csi.fuse.FuseConnection;
import io.efuse.csi.sys.Errno;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * How a mount uses the in-kernel cache: the mode, and where the cache program (efuse_cache.bpf.o) comes from: the
 * given file, else the file named by {@code EFUSE_KERNEL_CACHE_PROGRAM} (how a node image points every mount of
 * its daemons at another build), else the copy the jar carries (built with CO-RE by bpf/Makefile in every build
 * without -Dbpf.skip).
 */
public record KernelCacheOptions(KernelCacheMode mode, Path program) {

    static final String PROGRAM_RESOURCE = "/bpf/efuse_cache.bpf.o";
    static final String PROGRAM_ENV = "EFUSE_KERNEL_CACHE_PROGRAM";

    public static final KernelCacheOptions AUTO = new KernelCacheOptions(KernelCacheMode.AUTO, null);
    public static final KernelCacheOptions OFF = new KernelCacheOptions(KernelCacheMode.OFF, null);

    byte[] programBytes() throws IOException {
        if (program != null) {
            return Files.readAllBytes(program);
        }
        String fromEnvironment = System.getenv(PROGRAM_ENV);
        if (fromEnvironment != null && !fromEnvironment.isBlank()) {
            return Files.readAllBytes(Path.of(fromEnvironment));
        }
        try (InputStream in = KernelCacheOptions.class.getResourceAsStream(PROGRAM_RESOURCE)) {
            if (in == null) {
                throw new IOException("this jar was built without its eBPF objects (-Dbpf.skip), so it carries no "
                        + "efuse_cache.bpf.o; pass --kernel-cache-program or set " + PROGRAM_ENV);
            }
            return in.readAllBytes();
        }
    }

    /** Loads the program, attaches it to the connection and returns the cache kept in its maps. */
    KernelCache attach(FuseConnection connection) throws Exception {
        byte[] elf = programBytes();
        EfuseCacheProgram program = EfuseCacheProgram.load(Libbpf.system(), elf);
        int rc = connection.attachEfuse(program.structOpsFd());
        if (rc < 0) {
            program.close();
            throw new IOException("attaching efuse_cache to FUSE connection " + connection.connectionId() + ": "
                    + Errno.name(-rc));
        }
        return new MapKernelCache(program, connection::detachEfuse, () -> {
            connection.detachEfuse();
            program.close();
        });
    }
}
