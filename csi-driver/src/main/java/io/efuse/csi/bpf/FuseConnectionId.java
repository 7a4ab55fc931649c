package io.efuse.csi.bpf;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

/**
 * The id the fuse tracepoints give a FUSE connection: the kernel dev_t of the mount (fc->dev), whose minor is the
 * N of /sys/fs/fuse/connections/N. User space sees the same device as st_dev, encoded differently.
 */
public final class FuseConnectionId {

    private FuseConnectionId() {
    }

    /** Kernel dev_t (major &lt;&lt; 20 | minor) of a glibc st_dev. */
    public static int fromStDev(long stDev) {
        long major = ((stDev >>> 8) & 0xfffL) | ((stDev >>> 32) & ~0xfffL);
        long minor = (stDev & 0xffL) | ((stDev >>> 12) & ~0xffL);
        return (int) ((major << 20) | minor);
    }

    /** The connection id of the FUSE mount at mountPoint (its root's st_dev). */
    public static int ofMountPoint(Path mountPoint) throws IOException {
        return fromStDev((Long) Files.getAttribute(mountPoint, "unix:dev", LinkOption.NOFOLLOW_LINKS));
    }
}
