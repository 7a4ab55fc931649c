package io.efuse.csi.fuse;

import io.efuse.csi.sys.LinuxConstants;

/** Protocol constants of the Linux FUSE ABI: versions, INIT flags, open/setattr/write flags, ioctls. */
public final class FuseAbi {
    private FuseAbi() {}

    public static final int KERNEL_VERSION = 7;
    /** The newest minor this daemon speaks; it replies with min(kernel's, this). */
    public static final int MAX_MINOR = 45;
    public static final long ROOT_ID = 1;

    // fuse_init_in.flags / fuse_init_out.flags (low 32 bits) and flags2 (high 32 bits as one long here).
    public static final long ASYNC_READ = 1L << 0;
    public static final long POSIX_LOCKS = 1L << 1;
    public static final long ATOMIC_O_TRUNC = 1L << 3;
    public static final long EXPORT_SUPPORT = 1L << 4;
    public static final long BIG_WRITES = 1L << 5;
    public static final long DONT_MASK = 1L << 6;
    public static final long SPLICE_WRITE = 1L << 7;
    public static final long SPLICE_MOVE = 1L << 8;
    public static final long SPLICE_READ = 1L << 9;
    public static final long FLOCK_LOCKS = 1L << 10;
    public static final long AUTO_INVAL_DATA = 1L << 12;
    public static final long DO_READDIRPLUS = 1L << 13;
    public static final long READDIRPLUS_AUTO = 1L << 14;
    public static final long ASYNC_DIO = 1L << 15;
    public static final long WRITEBACK_CACHE = 1L << 16;
    public static final long NO_OPEN_SUPPORT = 1L << 17;
    public static final long PARALLEL_DIROPS = 1L << 18;
    public static final long HANDLE_KILLPRIV = 1L << 19;
    public static final long POSIX_ACL = 1L << 20;
    public static final long ABORT_ERROR = 1L << 21;
    public static final long MAX_PAGES = 1L << 22;
    public static final long CACHE_SYMLINKS = 1L << 23;
    public static final long NO_OPENDIR_SUPPORT = 1L << 24;
    public static final long EXPLICIT_INVAL_DATA = 1L << 25;
    public static final long HANDLE_KILLPRIV_V2 = 1L << 28;
    public static final long SETXATTR_EXT = 1L << 29;
    public static final long INIT_EXT = 1L << 30;
    public static final long SECURITY_CTX = 1L << 32;
    public static final long CREATE_SUPP_GROUP = 1L << 34;
    public static final long DIRECT_IO_ALLOW_MMAP = 1L << 36;
    public static final long PASSTHROUGH = 1L << 37;
    public static final long NO_EXPORT_SUPPORT = 1L << 38;
    public static final long HAS_RESEND = 1L << 39;
    public static final long OVER_IO_URING = 1L << 41;

    // fuse_open_out.open_flags
    public static final int FOPEN_DIRECT_IO = 1 << 0;
    public static final int FOPEN_KEEP_CACHE = 1 << 1;
    public static final int FOPEN_NONSEEKABLE = 1 << 2;
    public static final int FOPEN_CACHE_DIR = 1 << 3;
    public static final int FOPEN_STREAM = 1 << 4;
    public static final int FOPEN_NOFLUSH = 1 << 5;
    public static final int FOPEN_PARALLEL_DIRECT_WRITES = 1 << 6;
    public static final int FOPEN_PASSTHROUGH = 1 << 7;

    // fuse_open_in.open_flags
    public static final int OPEN_KILL_SUIDGID = 1 << 0;

    // fuse_setattr_in.valid
    public static final int FATTR_MODE = 1 << 0;
    public static final int FATTR_UID = 1 << 1;
    public static final int FATTR_GID = 1 << 2;
    public static final int FATTR_SIZE = 1 << 3;
    public static final int FATTR_ATIME = 1 << 4;
    public static final int FATTR_MTIME = 1 << 5;
    public static final int FATTR_FH = 1 << 6;
    public static final int FATTR_ATIME_NOW = 1 << 7;
    public static final int FATTR_MTIME_NOW = 1 << 8;
    public static final int FATTR_LOCKOWNER = 1 << 9;
    public static final int FATTR_CTIME = 1 << 10;
    public static final int FATTR_KILL_SUIDGID = 1 << 11;

    // fuse_setxattr_in.setxattr_flags (with SETXATTR_EXT)
    public static final int SETXATTR_ACL_KILL_SGID = 1 << 0;

    public static final int GETATTR_FH = 1 << 0;
    public static final int WRITE_CACHE = 1 << 0;
    public static final int WRITE_KILL_SUIDGID = 1 << 2;
    public static final int FSYNC_FDATASYNC = 1 << 0;
    public static final int RELEASE_FLUSH = 1 << 0;

    public static final int NOTIFY_INVAL_INODE = 2;
    public static final int NOTIFY_INVAL_ENTRY = 3;
    public static final int NOTIFY_DELETE = 6;
    public static final int NOTIFY_RESEND = 7;

    public static final long UNIQUE_RESEND = 1L << 63;

    private static final int IOC_MAGIC = 229;
    public static final long DEV_IOC_CLONE = LinuxConstants.ioc(LinuxConstants.IOC_READ, IOC_MAGIC, 0, 4);
    public static final long DEV_IOC_BACKING_OPEN = LinuxConstants.ioc(LinuxConstants.IOC_WRITE, IOC_MAGIC, 1,
            FuseStructs.BackingMap.SIZE);
    public static final long DEV_IOC_BACKING_CLOSE = LinuxConstants.ioc(LinuxConstants.IOC_WRITE, IOC_MAGIC, 2, 4);

    /** The kernel's default maximum of pages per request; with MAX_PAGES we ask for 1 MiB requests. */
    public static final int MAX_PAGES_PER_REQUEST = 256;
    public static final int MAX_WRITE = MAX_PAGES_PER_REQUEST * 4096;
    /** The kernel insists that a read buffer holds a maximal WRITE plus its headers. */
    public static final int MIN_READ_BUFFER = MAX_WRITE + 8192;
}
