package io.efuse.csi.bpf;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * A FUSE mount for the monitor's tests: bindfs over a backing directory with entry/attr/negative caching off, so
 * that every stat, lookup, read and write reaches the daemon.
 */
public final class TestFuseMount implements AutoCloseable {

    public final Path backing;
    public final Path mountPoint;

    private TestFuseMount(Path backing, Path mountPoint) {
        this.backing = backing;
        this.mountPoint = mountPoint;
    }

    public static TestFuseMount mount(Path dir) throws IOException, InterruptedException {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/bindfs")), "bindfs is not installed (apt-get install bindfs)");
        Path backing = Files.createDirectories(dir.resolve("backing"));
        Path mountPoint = Files.createDirectories(dir.resolve("mnt"));
        Process p = new ProcessBuilder("/usr/bin/bindfs", "-o",
                "attr_timeout=0,entry_timeout=0,negative_timeout=0", backing.toString(), mountPoint.toString())
                .redirectErrorStream(true).start();
        if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException("bindfs " + backing + " " + mountPoint + " failed: "
                    + new String(p.getInputStream().readAllBytes()));
        }
        return new TestFuseMount(backing, mountPoint);
    }

    public int connectionId() throws IOException {
        return FuseConnectionId.ofMountPoint(mountPoint);
    }

    @Override
    public void close() throws IOException, InterruptedException {
        Process p = new ProcessBuilder("umount", mountPoint.toString()).redirectErrorStream(true).start();
        if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException("umount " + mountPoint + " failed: " + new String(p.getInputStream().readAllBytes()));
        }
    }
}
