package io.efuse.csi.bpf;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.efuse.csi.testing.RequiresBpf;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@RequiresBpf
class BpfHostTest {

    @TempDir
    Path dir;

    @Test
    void mountsTracefsWhenItIsMissingAndFindsTheFuseTracepoints() throws Exception {
        Path tracing = Files.createDirectories(dir.resolve("tracing"));
        BpfHost host = new BpfHost(Libbpf::system, Path.of("/sys/kernel/btf/vmlinux"), tracing,
                Path.of("/sys/fs/bpf"), dir.resolve("pins"), Path.of("/proc/self/mountinfo"));
        try {
            host.requireTracepoint("fuse", "fuse_request_send");
            assertTrue(host.isMounted(tracing, "tracefs"));
            BpfUnavailableException e = assertThrows(BpfUnavailableException.class,
                    () -> host.requireTracepoint("fuse", "fuse_no_such_event"));
            assertTrue(e.getMessage().contains("no fuse:fuse_no_such_event tracepoint"), e.getMessage());
        } finally {
            if (host.isMounted(tracing, "tracefs")) {
                Process p = new ProcessBuilder("umount", tracing.toString()).inheritIO().start();
                assertTrue(p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0, "umount " + tracing);
            }
        }
    }
}
