package io.efuse.csi.fs;

import static io.efuse.csi.sys.LinuxConstants.*;

import io.efuse.csi.sys.Errno;
import io.efuse.csi.sys.ErrnoException;
import io.efuse.csi.sys.LibC;
import io.efuse.csi.sys.NativeMemory;
import io.efuse.csi.sys.Statx;
import io.efuse.csi.sys.Syscalls;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * System calls on paths as the tests make them, where java.nio would hide the errno: each returns its
 * result, or "E..." (the errno's name) on failure, so that results from a native directory and from
 * an eFuse mount compare as plain strings.
 */
final class Posix {
    private Posix() {}

    static long c(Path p) {
        return NativeMemory.address(NativeMemory.cString(p.toString()));
    }

    private static String ok(long r) {
        return r < 0 ? Errno.name(LibC.errno()) : "ok";
    }

    /** A fd (>= 0), or a negative errno. */
    static int open(Path p, int flags, int mode) {
        ByteBuffer s = NativeMemory.cString(p.toString());
        int fd = LibC.open(NativeMemory.address(s), flags | O_CLOEXEC, mode);
        return fd < 0 ? -LibC.errno() : fd;
    }

    /** Opens and closes at once: "ok" or the errno's name. */
    static String tryOpen(Path p, int flags, int mode) {
        int fd = open(p, flags, mode);
        if (fd < 0) {
            return Errno.name(-fd);
        }
        LibC.close(fd);
        return "ok";
    }

    static String mkdir(Path p, int mode) {
        ByteBuffer s = NativeMemory.cString(p.toString());
        return ok(LibC.mkdirat(AT_FDCWD, NativeMemory.address(s), mode));
    }

    static String rmdir(Path p) {
        ByteBuffer s = NativeMemory.cString(p.toString());
        return ok(LibC.unlinkat(AT_FDCWD, NativeMemory.address(s), AT_REMOVEDIR));
    }

    static String unlink(Path p) {
        ByteBuffer s = NativeMemory.cString(p.toString());
        return ok(LibC.unlinkat(AT_FDCWD, NativeMemory.address(s), 0));
    }

    static String rename(Path from, Path to, int flags) {
        ByteBuffer a = NativeMemory.cString(from.toString());
        ByteBuffer b = NativeMemory.cString(to.toString());
        return ok(LibC.renameat2(AT_FDCWD, NativeMemory.address(a), AT_FDCWD, NativeMemory.address(b), flags));
    }

    static String link(Path existing, Path newPath) {
        ByteBuffer a = NativeMemory.cString(existing.toString());
        ByteBuffer b = NativeMemory.cString(newPath.toString());
        return ok(LibC.linkat(AT_FDCWD, NativeMemory.address(a), AT_FDCWD, NativeMemory.address(b), 0));
    }

    static String symlink(String target, Path link) {
        ByteBuffer a = NativeMemory.cString(target);
        ByteBuffer b = NativeMemory.cString(link.toString());
        return ok(LibC.symlinkat(NativeMemory.address(a), AT_FDCWD, NativeMemory.address(b)));
    }

    static String readlink(Path p) {
        ByteBuffer s = NativeMemory.cString(p.toString());
        ByteBuffer buf = NativeMemory.allocate(8192);
        long n = LibC.readlinkat(AT_FDCWD, NativeMemory.address(s), NativeMemory.address(buf), buf.capacity());
        if (n < 0) {
            return Errno.name(LibC.errno());
        }
        byte[] b = new byte[(int) n];
        buf.get(0, b);
        return new String(b, StandardCharsets.UTF_8);
    }

    static String mknod(Path p, int mode) {
        return mknod(p, mode, 0, 0);
    }

    static String mknod(Path p, int mode, int major, int minor) {
        ByteBuffer s = NativeMemory.cString(p.toString());
        return ok(LibC.mknodat(AT_FDCWD, NativeMemory.address(s), mode, Statx.makedev(major, minor)));
    }

    /** The device numbers of a device node, "major:minor". */
    static String rdev(Path p) throws ErrnoException {
        Statx st = Syscalls.statx(p);
        return st.rdevMajor() + ":" + st.rdevMinor();
    }

    static String mkfifo(Path p, int perm) {
        return mknod(p, S_IFIFO | perm);
    }

    static String chmod(Path p, int mode) {
        ByteBuffer s = NativeMemory.cString(p.toString());
        return ok(LibC.fchmodat(AT_FDCWD, NativeMemory.address(s), mode, 0));
    }

    static String chown(Path p, int uid, int gid) {
        ByteBuffer s = NativeMemory.cString(p.toString());
        return ok(LibC.fchownat(AT_FDCWD, NativeMemory.address(s), uid, gid, 0));
    }

    static String lchown(Path p, int uid, int gid) {
        ByteBuffer s = NativeMemory.cString(p.toString());
        return ok(LibC.fchownat(AT_FDCWD, NativeMemory.address(s), uid, gid, AT_SYMLINK_NOFOLLOW));
    }

    static String truncate(Path p, long length) {
        ByteBuffer s = NativeMemory.cString(p.toString());
        return ok(LibC.truncate(NativeMemory.address(s), length));
    }

    /** utimensat with explicit times; nsec may be UTIME_NOW or UTIME_OMIT. */
    static String utimens(Path p, long aSec, long aNsec, long mSec, long mNsec, int flags) {
        ByteBuffer s = NativeMemory.cString(p.toString());
        ByteBuffer t = NativeMemory.allocate(32);
        t.putLong(0, aSec).putLong(8, aNsec).putLong(16, mSec).putLong(24, mNsec);
        return ok(LibC.utimensat(AT_FDCWD, NativeMemory.address(s), NativeMemory.address(t), flags));
    }

    static String setxattr(Path p, String name, String value, int flags) {
        ByteBuffer s = NativeMemory.cString(p.toString());
        ByteBuffer n = NativeMemory.cString(name);
        byte[] v = value.getBytes(StandardCharsets.UTF_8);
        ByteBuffer vb = NativeMemory.allocate(Math.max(1, v.length));
        vb.put(0, v);
        return ok(LibC.setxattr(NativeMemory.address(s), NativeMemory.address(n), NativeMemory.address(vb), v.length,
                flags));
    }

    /** The value, or the errno's name; with size 0 asks only for the size ("size=N"). */
    static String getxattr(Path p, String name, int size) {
        ByteBuffer s = NativeMemory.cString(p.toString());
        ByteBuffer n = NativeMemory.cString(name);
        ByteBuffer buf = NativeMemory.allocate(Math.max(1, size));
        long r = LibC.getxattr(NativeMemory.address(s), NativeMemory.address(n), size == 0 ? 0 : NativeMemory.address(buf),
                size);
        if (r < 0) {
            return Errno.name(LibC.errno());
        }
        if (size == 0) {
            return "size=" + r;
        }
        byte[] b = new byte[(int) r];
        buf.get(0, b);
        return new String(b, StandardCharsets.UTF_8);
    }

    /** The user.* names, in listing order (the order the backing filesystem keeps), or the errno's name. */
    static String listxattr(Path p) {
        return listxattr(p, "user.");
    }

    /** The names that start with prefix, in listing order, or the errno's name. */
    static String listxattr(Path p, String prefix) {
        ByteBuffer s = NativeMemory.cString(p.toString());
        long size = LibC.listxattr(NativeMemory.address(s), 0, 0);
        if (size < 0) {
            return Errno.name(LibC.errno());
        }
        ByteBuffer buf = NativeMemory.allocate((int) Math.max(1, size));
        long r = LibC.listxattr(NativeMemory.address(s), NativeMemory.address(buf), size);
        if (r < 0) {
            return Errno.name(LibC.errno());
        }
        List<String> names = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < r; i++) {
            if (buf.get(i) == 0) {
                byte[] b = new byte[i - start];
                buf.get(start, b);
                String name = new String(b, StandardCharsets.UTF_8);
                if (name.startsWith(prefix)) {
                    names.add(name);
                }
                start = i + 1;
            }
        }
        return "size=" + r + " " + names;
    }

    /** Extended attribute calls on a symlink itself (lsetxattr, lgetxattr, llistxattr, lremovexattr). */
    static String lsetxattr(Path p, String name, String value) {
        ByteBuffer s = NativeMemory.cString(p.toString());
        ByteBuffer n = NativeMemory.cString(name);
        byte[] v = value.getBytes(StandardCharsets.UTF_8);
        ByteBuffer vb = NativeMemory.allocate(Math.max(1, v.length));
        vb.put(0, v);
        return ok(LibC.lsetxattr(NativeMemory.address(s), NativeMemory.address(n), NativeMemory.address(vb), v.length, 0));
    }

    static String lgetxattr(Path p, String name) {
        ByteBuffer s = NativeMemory.cString(p.toString());
        ByteBuffer n = NativeMemory.cString(name);
        ByteBuffer buf = NativeMemory.allocate(256);
        long r = LibC.lgetxattr(NativeMemory.address(s), NativeMemory.address(n), NativeMemory.address(buf), 256);
        if (r < 0) {
            return Errno.name(LibC.errno());
        }
        byte[] b = new byte[(int) r];
        buf.get(0, b);
        return new String(b, StandardCharsets.UTF_8);
    }

    /** Every name (not only user.*), or the errno's name. */
    static String llistxattr(Path p) {
        ByteBuffer s = NativeMemory.cString(p.toString());
        ByteBuffer buf = NativeMemory.allocate(4096);
        long r = LibC.llistxattr(NativeMemory.address(s), NativeMemory.address(buf), 4096);
        if (r < 0) {
            return Errno.name(LibC.errno());
        }
        byte[] b = new byte[(int) r];
        buf.get(0, b);
        return new String(b, StandardCharsets.UTF_8).replace('\0', ' ').strip();
    }

    static String lremovexattr(Path p, String name) {
        ByteBuffer s = NativeMemory.cString(p.toString());
        ByteBuffer n = NativeMemory.cString(name);
        return ok(LibC.lremovexattr(NativeMemory.address(s), NativeMemory.address(n)));
    }

    static String removexattr(Path p, String name) {
        ByteBuffer s = NativeMemory.cString(p.toString());
        ByteBuffer n = NativeMemory.cString(name);
        return ok(LibC.removexattr(NativeMemory.address(s), NativeMemory.address(n)));
    }

    /** lstat (statx without following symlinks), or throws with the errno. */
    static Statx lstat(Path p) throws ErrnoException {
        return Syscalls.statx(p);
    }

    /** The errno's name of a failing lstat, or "exists". */
    static String exists(Path p) {
        try {
            Syscalls.statx(p);
            return "exists";
        } catch (ErrnoException e) {
            return Errno.name(e.errno());
        }
    }

    /**
     * The attributes that must be equal between a native directory and an eFuse mount for the same
     * operations: type and permission bits, link count, owner, size. Times are compared separately,
     * only where a test sets them.
     */
    static String attrs(Path p) {
        try {
            Statx st = Syscalls.statx(p);
            return String.format("mode=%o nlink=%d uid=%d gid=%d size=%d", st.mode(), st.nlink(), st.uid(), st.gid(),
                    st.size());
        } catch (ErrnoException e) {
            return Errno.name(e.errno());
        }
    }

    /** Writes all of data at offset through fd; returns the bytes written or the negative errno. */
    static long pwrite(int fd, byte[] data, long offset) {
        ByteBuffer b = NativeMemory.allocate(Math.max(1, data.length));
        b.put(0, data);
        long n = LibC.pwrite(fd, NativeMemory.address(b), data.length, offset);
        return n < 0 ? -LibC.errno() : n;
    }

    /** Reads up to len bytes at offset; the bytes read, or throws with the errno. */
    static byte[] pread(int fd, int len, long offset) throws ErrnoException {
        ByteBuffer b = NativeMemory.allocate(Math.max(1, len));
        long n = LibC.pread(fd, NativeMemory.address(b), len, offset);
        if (n < 0) {
            throw new ErrnoException("pread", "fd " + fd, LibC.errno());
        }
        byte[] out = new byte[(int) n];
        b.get(0, out);
        return out;
    }
}
