package io.efuse.csi.sys;

import static io.efuse.csi.sys.LinuxConstants.*;

import java.nio.ByteBuffer;
import java.nio.file.Path;

/** Checked wrappers for calls made off the request path: errors become {@link ErrnoException}. */
public final class Syscalls {
    private Syscalls() {}

    public static int open(Path path, int flags, int mode) throws ErrnoException {
        ByteBuffer p = NativeMemory.cString(path.toString());
        int fd = LibC.open(NativeMemory.address(p), flags | O_CLOEXEC, mode);
        if (fd < 0) {
            throw new ErrnoException("open", path.toString(), LibC.errno());
        }
        return fd;
    }

    /**
     * openat2(2) relative to dirfd. With {@link LinuxConstants#RESOLVE_BENEATH} the kernel refuses any
     * resolution that leaves dirfd, symlinks and ".." included.
     */
    public static int openat2(int dirfd, String path, int flags, int mode, long resolve) throws ErrnoException {
        ByteBuffer p = NativeMemory.cString(path);
        ByteBuffer how = NativeMemory.allocate(24);
        how.putLong(0, flags | O_CLOEXEC).putLong(8, mode).putLong(16, resolve);
        long fd = LibC.syscall(SYS_OPENAT2, dirfd, NativeMemory.address(p), NativeMemory.address(how), 24, 0, 0);
        if (fd < 0) {
            throw new ErrnoException("openat2", path, LibC.errno());
        }
        return (int) fd;
    }

    public static void close(int fd) {
        if (fd >= 0) {
            LibC.close(fd);
        }
    }

    public static int dupCloexec(int fd) throws ErrnoException {
        int r = LibC.fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (r < 0) {
            throw new ErrnoException("dup", "fd " + fd, LibC.errno());
        }
        return r;
    }

    public static void mount(String source, Path target, String fstype, long flags, String data) throws ErrnoException {
        ByteBuffer s = NativeMemory.cString(source);
        ByteBuffer t = NativeMemory.cString(target.toString());
        ByteBuffer f = fstype == null ? null : NativeMemory.cString(fstype);
        ByteBuffer d = data == null ? null : NativeMemory.cString(data);
        int r = LibC.mount(NativeMemory.address(s), NativeMemory.address(t),
                f == null ? 0 : NativeMemory.address(f), flags, d == null ? 0 : NativeMemory.address(d));
        if (r < 0) {
            throw new ErrnoException("mount", target.toString(), LibC.errno());
        }
    }

    public static void umount(Path target, int flags) throws ErrnoException {
        ByteBuffer t = NativeMemory.cString(target.toString());
        if (LibC.umount2(NativeMemory.address(t), flags) < 0) {
            throw new ErrnoException("umount", target.toString(), LibC.errno());
        }
    }

    public static long ioctl(int fd, long request, long arg, String what) throws ErrnoException {
        int r = LibC.ioctl(fd, request, arg);
        if (r < 0) {
            throw new ErrnoException("ioctl " + what, "fd " + fd, LibC.errno());
        }
        return r;
    }

    /** statx of an fd itself (AT_EMPTY_PATH). */
    public static Statx fstatx(int fd) throws ErrnoException {
        ByteBuffer buf = NativeMemory.allocate(Statx.SIZE);
        ByteBuffer empty = NativeMemory.allocate(1);
        if (LibC.statx(fd, NativeMemory.address(empty), AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS,
                NativeMemory.address(buf)) < 0) {
            throw new ErrnoException("statx", "fd " + fd, LibC.errno());
        }
        return new Statx(buf, 0);
    }

    public static Statx statx(Path path) throws ErrnoException {
        ByteBuffer buf = NativeMemory.allocate(Statx.SIZE);
        ByteBuffer p = NativeMemory.cString(path.toString());
        if (LibC.statx(AT_FDCWD, NativeMemory.address(p), AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS,
                NativeMemory.address(buf)) < 0) {
            throw new ErrnoException("statx", path.toString(), LibC.errno());
        }
        return new Statx(buf, 0);
    }

    /**
     * Raises RLIMIT_NOFILE as far as allowed: both limits to the kernel's maximum (fs.nr_open) when
     * the process may raise its hard limit (CAP_SYS_RESOURCE), else the soft limit to the hard one.
     * The daemon keeps a descriptor per node the kernel knows, and the kernel may know of many more
     * nodes than a default hard limit (often 20,000 or fewer) allows. Returns the new soft limit.
     */
    public static long raiseFileLimit() {
        ByteBuffer rl = NativeMemory.allocate(16);
        long a = NativeMemory.address(rl);
        if (LibC.getrlimit(RLIMIT_NOFILE, a) < 0) {
            return -1;
        }
        long hard = rl.getLong(8);
        long max = kernelFileMax();
        if (max > hard) {
            rl.putLong(0, max).putLong(8, max);
            if (LibC.setrlimit(RLIMIT_NOFILE, a) == 0) {
                return max;
            }
            rl.putLong(8, hard);
        }
        rl.putLong(0, hard);
        LibC.setrlimit(RLIMIT_NOFILE, a);
        LibC.getrlimit(RLIMIT_NOFILE, a);
        return rl.getLong(0);
    }

    /** The current soft RLIMIT_NOFILE, or 1024 if it cannot be read. */
    public static long fileLimit() {
        ByteBuffer rl = NativeMemory.allocate(16);
        return LibC.getrlimit(RLIMIT_NOFILE, NativeMemory.address(rl)) < 0 ? 1024 : rl.getLong(0);
    }

    public static final int CAP_SYS_RESOURCE = 24;

    /**
     * Whether this process has capability {@code cap} (below 32) in its effective set: root in a container may
     * lack some, and the tools this process runs get no more than it has.
     */
    public static boolean hasCapability(int cap) {
        ByteBuffer header = NativeMemory.allocate(8);
        ByteBuffer data = NativeMemory.allocate(24);
        header.putInt(0, 0x20080522).putInt(4, 0); // _LINUX_CAPABILITY_VERSION_3, this process
        if (LibC.syscall(SYS_CAPGET, NativeMemory.address(header), NativeMemory.address(data), 0, 0, 0, 0) != 0) {
            return false;
        }
        return (data.getInt(0) & (1 << cap)) != 0;
    }

    /** fs.nr_open: the largest RLIMIT_NOFILE the kernel allows, or -1 if unreadable. */
    private static long kernelFileMax() {
        try {
            return Long.parseLong(java.nio.file.Files.readString(Path.of("/proc/sys/fs/nr_open")).strip());
        } catch (java.io.IOException | NumberFormatException e) {
            return -1;
        }
    }
}
