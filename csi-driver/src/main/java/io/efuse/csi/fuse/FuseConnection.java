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

    /**
     * A connection with these INIT flags and no device, to drive a filesystem without a kernel: its ioctls fail
     * with EBADF.
     */
    public static FuseConnection unbound(int minor, long flags) {
        return new FuseConnection(-1, minor, flags, FuseAbi.MAX_WRITE, -1);
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

    /** Whether the kernel announced the eFuse hook (FUSE_EFUSE): a BPF struct_ops may answer requests. */
    public boolean efuseOffered() {
        return (flags & EfuseKernelAbi.EFUSE) != 0;
    }

    /**
     * Attaches a loaded efuse_ops struct_ops map to this connection (it replaces what was attached); 0 or a
     * negative errno (EPERM without CAP_SYS_ADMIN, EINVAL for a map of another kind, ENOTTY/EOPNOTSUPP on
     * kernels without the hook).
     */
    public int attachEfuse(int structOpsMapFd) {
        ByteBuffer a = EFUSE_SCRATCH.get();
        a.putInt(EfuseKernelAbi.ATTACH_MAP_FD, structOpsMapFd).putInt(EfuseKernelAbi.ATTACH_FLAGS, 0)
                .putLong(EfuseKernelAbi.ATTACH_PADDING, 0);
        int rc = LibC.ioctl(deviceFd, EfuseKernelAbi.DEV_IOC_EFUSE_ATTACH, NativeMemory.address(a));
        return rc < 0 ? -LibC.errno() : 0;
    }

    /** Detaches the connection's program: from the next request on, everything reaches the daemon. */
    public int detachEfuse() {
        int rc = LibC.ioctl(deviceFd, EfuseKernelAbi.DEV_IOC_EFUSE_DETACH, 0);
        return rc < 0 ? -LibC.errno() : 0;
    }

    /** Releases a backing id (FUSE_DEV_IOC_BACKING_CLOSE). */
    public void closeBacking(int backingId) {
        ByteBuffer map = SCRATCH.get();
        map.putInt(0, backingId);
        LibC.ioctl(deviceFd, FuseAbi.DEV_IOC_BACKING_CLOSE, NativeMemory.address(map));
    }

    private final ThreadLocal<ByteBuffer> EFUSE_SCRATCH =
            ThreadLocal.withInitial(() -> NativeMemory.allocate(EfuseKernelAbi.ATTACH_SIZE));

    private final ThreadLocal<ByteBuffer> SCRATCH =
            ThreadLocal.withInitial(() -> NativeMemory.allocate(BackingMap.SIZE));
}
