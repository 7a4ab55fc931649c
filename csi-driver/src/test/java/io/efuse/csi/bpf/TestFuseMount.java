package io.efuse.csi.bpf;

import io.efuse.csi.fs.EfuseMount;
import io.efuse.csi.fs.MountOptions;
import io.efuse.csi.fs.Tier;
import io.efuse.csi.testing.Capabilities;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * An eFuse mount for the monitor's tests: classic tier (file data through the daemon) with entry and attribute
 * timeouts 0, so that every stat, lookup, read and write reaches the daemon and so the tracepoints.
 */
public final class TestFuseMount implements AutoCloseable {

    public final Path backing;
    public final Path mountPoint;
    public final EfuseMount mount;

    private TestFuseMount(Path backing, Path mountPoint, EfuseMount mount) {
        this.backing = backing;
        this.mountPoint = mountPoint;
        this.mount = mount;
    }

    public static TestFuseMount mount(Path dir) throws IOException {
        Capabilities.assumeFuse();
        Path backing = Files.createDirectories(dir.resolve("backing"));
        Path mountPoint = Files.createDirectories(dir.resolve("mnt"));
        EfuseMount mount = EfuseMount.mount(MountOptions.builder(backing, mountPoint).tier(Tier.CLASSIC)
                .timeouts(Duration.ZERO).workers(2).build());
        return new TestFuseMount(backing, mountPoint, mount);
    }

    /** The connection id as the monitor keys it, checked against what the daemon negotiated. */
    public int connectionId() throws IOException {
        int fromStDev = FuseConnectionId.ofMountPoint(mountPoint);
        if (fromStDev != mount.connectionId()) {
            throw new IllegalStateException("st_dev of " + mountPoint + " gives connection " + fromStDev
                    + ", the daemon says " + mount.connectionId());
        }
        return fromStDev;
    }

    @Override
    public void close() {
        mount.close();
    }
}
