package io.efuse.csi.fuse;

import io.efuse.csi.fuse.FuseStructs.BackingMap;
import io.efuse.csi.sys.LibC;
import io.efuse.csi.sys.NativeMemory;
import java.nio.ByteBuffer;

/**
 * What INIT settled for one mount, and the connection-level kernel calls a filesystem may make:
 * registering backing files for passthrough. Thread-safe: each call uses its own small buffer.
 */
public final class FuseConnection {
    private final int deviceFd;
    private final int minor;
    private final long flags;
    private final boolean passthrough;
    private final boolean writebackCache;
    private final int maxWrite;
    private final long connectionId;

    FuseConnection(int deviceFd, int minor, long flags, int maxWrite, long connectionId) {
        this.deviceFd = deviceFd;
        this.minor = minor;
        this.flags = flags;
        this.passthrough = (flags & FuseAbi.PASSTHROUGH) != 0;
        this.writebackCache = (flags & FuseAbi.WRITEBACK_CACHE) != 0;
        this.maxWrite = maxWrite;
        this.connectionId = connectionId;
    }

    public int minor() { return minor; }
    /** The INIT flags both sides agreed on (flags2 in the upper 32 bits). */
    public long flags() { return flags; }
    public boolean passthrough() { return passthrough; }
    public boolean writebackCache() { return writebackCache; }
    public int maxWrite() { return maxWrite; }
    public long connectionId() { return connectionId; }

    /**
     * Registers fd as a backing file (FUSE_DEV_IOC_BACKING_OPEN); returns the backing id for
     * fuse_open_out, or a negative errno.
     */
    public int openBacking(int fd) {
        ByteBuffer map = SCRATCH.get();
        map.putInt(BackingMap.FD, fd).putInt(BackingMap.FLAGS, 0).putLong(BackingMap.PADDING, 0);
        int id = LibC.ioctl(deviceFd, FuseAbi.DEV_IOC_BACKING_OPEN, NativeMemory.address(map));
        return id < 0 ? -LibC.errno() : id;
    }

    /** Releases a backing id (FUSE_DEV_IOC_BACKING_CLOSE). */
    public void closeBacking(int backingId) {
        ByteBuffer map = SCRATCH.get();
        map.putInt(0, backingId);
        LibC.ioctl(deviceFd, FuseAbi.DEV_IOC_BACKING_CLOSE, NativeMemory.address(map));
    }

    private final ThreadLocal<ByteBuffer> SCRATCH =
            ThreadLocal.withInitial(() -> NativeMemory.allocate(BackingMap.SIZE));
}
