package io.efuse.csi.sys;

import static io.efuse.csi.sys.LinuxConstants.O_DIRECTORY;
import static io.efuse.csi.sys.LinuxConstants.O_PATH;
import static io.efuse.csi.sys.LinuxConstants.O_RDONLY;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Subvolumes, snapshots and quota groups of btrfs through its ioctls (include/uapi/linux/btrfs.h), so that a storage
 * engine needs no btrfs-progs at run time. Quota figures are read from /sys/fs/btrfs/&lt;fsid&gt;/qgroups, which the
 * kernel keeps from its in-memory qgroup state without a tree search.
 */
public final class BtrfsSyscalls {
    public static final long BTRFS_SUPER_MAGIC = 0x9123683EL;
    /** Inode number of every subvolume's root directory (BTRFS_FIRST_FREE_OBJECTID). */
    public static final long FIRST_FREE_OBJECTID = 256;
    /** The id of the top-level subvolume (BTRFS_FS_TREE_OBJECTID). */
    public static final long FS_TREE_OBJECTID = 5;

    // _IOW/_IOR/_IOWR(0x94, nr, size): both vol_args structs and ino_lookup_args are 4096 bytes
    private static final long BTRFS_IOC_SYNC = 0x9408L;
    private static final long BTRFS_IOC_SUBVOL_CREATE = 0x5000940EL;
    private static final long BTRFS_IOC_SNAP_DESTROY = 0x5000940FL;
    private static final long BTRFS_IOC_INO_LOOKUP = 0xD0009412L;
    private static final long BTRFS_IOC_SNAP_CREATE_V2 = 0x50009417L;
    private static final long BTRFS_IOC_SUBVOL_GETFLAGS = 0x80089419L;
    private static final long FS_IOC_GETFLAGS = 0x80086601L; // _IOR('f', 1, long)
    private static final long FS_IOC_SETFLAGS = 0x40086602L; // _IOW('f', 2, long)
    private static final int FS_NOCOW_FL = 0x00800000;
    private static final long BTRFS_IOC_SUBVOL_SETFLAGS = 0x4008941AL;
    private static final long BTRFS_IOC_FS_INFO = 0x8400941FL;
    private static final long BTRFS_IOC_QUOTA_CTL = 0xC0109428L;
    private static final long BTRFS_IOC_QGROUP_CREATE = 0x4010942AL;
    private static final long BTRFS_IOC_QGROUP_LIMIT = 0x8030942BL;
    private static final long BTRFS_IOC_QUOTA_RESCAN_WAIT = 0x942EL;

    private static final int VOL_ARGS_SIZE = 4096;
    private static final int VOL_ARGS_NAME = 8;
    private static final int VOL_ARGS_NAME_MAX = 4087;
    private static final int VOL_ARGS_V2_SIZE = 4096;
    private static final int VOL_ARGS_V2_FLAGS = 16;
    private static final int VOL_ARGS_V2_NAME = 56;
    private static final int VOL_ARGS_V2_NAME_MAX = 4039;
    private static final long BTRFS_SUBVOL_RDONLY = 1L << 1;

    private static final int INO_LOOKUP_SIZE = 4096;
    private static final int FS_INFO_SIZE = 1024;
    private static final int FS_INFO_FSID = 16;

    private static final long BTRFS_QUOTA_CTL_ENABLE = 1;
    private static final long BTRFS_QUOTA_CTL_ENABLE_SIMPLE_QUOTA = 4;
    private static final long BTRFS_QGROUP_LIMIT_MAX_RFER = 1L << 0;
    private static final long BTRFS_QGROUP_LIMIT_MAX_EXCL = 1L << 1;
    // the kernel reads a limit of (u64)-1 as "remove this limit"; a 0 would be a limit of zero bytes
    private static final long QGROUP_LIMIT_CLEAR = -1L;
    private static final int QGROUP_LIMIT_ARGS_SIZE = 48;

    private static final int STATFS_SIZE = 128;
    private static final Path SYSFS = Path.of("/sys/fs/btrfs");

    /** How the filesystem accounts space to subvolumes. */
    public enum QuotaMode {
        DISABLED,
        /** Full qgroups: shared extents count towards every subvolume that references them. */
        QGROUP,
        /** Simple quotas (Linux 6.7+): an extent counts only towards the subvolume that wrote it. */
        SIMPLE
    }

    /**
     * One level-0 qgroup as the kernel last committed it, in bytes. A max of 0 means no limit. Under simple quotas
     * referenced and exclusive are the same figure.
     */
    public record QgroupUsage(long referencedBytes, long exclusiveBytes, long maxReferenced, long maxExclusive) {}

    /** The kernel does not know simple quotas (before Linux 6.7): the caller may enable full qgroups instead. */
    public static final class SimpleQuotaUnsupportedException extends ErrnoException {
        SimpleQuotaUnsupportedException(String path, int errno) {
            super("ioctl BTRFS_IOC_QUOTA_CTL enable simple quota", path, errno);
        }
    }

    /**
     * The qgroup still accounts some space. For a just-deleted subvolume that lasts until the cleaner has dropped its
     * tree (after a commit, see {@link #sync}); under simple quotas it lasts as long as any snapshot still shares an
     * extent the subvolume wrote.
     */
    public static final class QgroupBusyException extends ErrnoException {
        QgroupBusyException(String path) {
            super("ioctl BTRFS_IOC_QGROUP_CREATE destroy", path, Errno.EBUSY);
        }
    }

    public static boolean isBtrfs(Path p) throws ErrnoException {
        int fd = Syscalls.open(p, O_PATH, 0);
        try {
            ByteBuffer st = NativeMemory.allocate(STATFS_SIZE);
            if (LibC.fstatfs(fd, NativeMemory.address(st)) < 0) {
                throw new ErrnoException("fstatfs", p.toString(), LibC.errno());
            }
            return (st.getLong(0) & 0xFFFFFFFFL) == BTRFS_SUPER_MAGIC;
        } finally {
            Syscalls.close(fd);
        }
    }

    /** Whether {@code p} is the root directory of a subvolume (the top-level one included). */
    public boolean isSubvolume(Path p) throws ErrnoException {
        return isBtrfs(p) && Syscalls.statx(p).ino() == FIRST_FREE_OBJECTID;
    }

    /** Creates an empty subvolume at {@code path}, whose parent must exist on btrfs. */
    public void createSubvolume(Path path) throws ErrnoException {
        Path abs = path.toAbsolutePath();
        ByteBuffer args = NativeMemory.allocate(VOL_ARGS_SIZE);
        putName(args, VOL_ARGS_NAME, VOL_ARGS_NAME_MAX, abs, "BTRFS_IOC_SUBVOL_CREATE");
        int dir = openDir(parentOf(abs));
        try {
            ioctl(dir, BTRFS_IOC_SUBVOL_CREATE, args, "BTRFS_IOC_SUBVOL_CREATE", abs);
        } finally {
            Syscalls.close(dir);
        }
    }

    /**
     * Marks a directory so that the files made in it from now on are overwritten in place (FS_NOCOW_FL, chattr +C):
     * no copy on write, and so no checksums, for their data. A file shared with a snapshot is still copied on its
     * first write after the snapshot.
     */
    public void setNoCow(Path dir) throws ErrnoException {
        int fd = openDir(dir);
        try {
            ByteBuffer arg = NativeMemory.allocate(8);
            ioctl(fd, FS_IOC_GETFLAGS, arg, "FS_IOC_GETFLAGS", dir);
            int flags = arg.getInt(0);
            if ((flags & FS_NOCOW_FL) == 0) {
                arg.putInt(0, flags | FS_NOCOW_FL);
                ioctl(fd, FS_IOC_SETFLAGS, arg, "FS_IOC_SETFLAGS", dir);
            }
        } finally {
            Syscalls.close(fd);
        }
    }

    /** Whether files made in {@code dir} are overwritten in place (see {@link #setNoCow}). */
    public boolean noCow(Path dir) throws ErrnoException {
        int fd = openDir(dir);
        try {
            ByteBuffer arg = NativeMemory.allocate(8);
            ioctl(fd, FS_IOC_GETFLAGS, arg, "FS_IOC_GETFLAGS", dir);
            return (arg.getInt(0) & FS_NOCOW_FL) != 0;
        } finally {
            Syscalls.close(fd);
        }
    }

    /**
     * Snapshots the subvolume {@code source} as {@code target} (same filesystem). The snapshot shares all extents with
     * the source and copies them on write; a writable one is an independent volume from the start.
     */
    public void snapshot(Path source, Path target, boolean readOnly) throws ErrnoException {
        Path abs = target.toAbsolutePath();
        ByteBuffer args = NativeMemory.allocate(VOL_ARGS_V2_SIZE);
        putName(args, VOL_ARGS_V2_NAME, VOL_ARGS_V2_NAME_MAX, abs, "BTRFS_IOC_SNAP_CREATE_V2");
        args.putLong(VOL_ARGS_V2_FLAGS, readOnly ? BTRFS_SUBVOL_RDONLY : 0);
        int src = openDir(source);
        try {
            int dir = openDir(parentOf(abs));
            try {
                args.putLong(0, src);
                ioctl(dir, BTRFS_IOC_SNAP_CREATE_V2, args, "BTRFS_IOC_SNAP_CREATE_V2 from " + source, abs);
            } finally {
                Syscalls.close(dir);
            }
        } finally {
            Syscalls.close(src);
        }
    }

    public boolean isReadOnly(Path subvol) throws ErrnoException {
        int fd = openDir(subvol);
        try {
            return (getFlags(fd, subvol) & BTRFS_SUBVOL_RDONLY) != 0;
        } finally {
            Syscalls.close(fd);
        }
    }

    public void setReadOnly(Path subvol, boolean readOnly) throws ErrnoException {
        int fd = openDir(subvol);
        try {
            long flags = getFlags(fd, subvol);
            long wanted = readOnly ? flags | BTRFS_SUBVOL_RDONLY : flags & ~BTRFS_SUBVOL_RDONLY;
            if (wanted != flags) {
                ByteBuffer arg = NativeMemory.allocate(8);
                arg.putLong(0, wanted);
                ioctl(fd, BTRFS_IOC_SUBVOL_SETFLAGS, arg, "BTRFS_IOC_SUBVOL_SETFLAGS", subvol);
            }
        } finally {
            Syscalls.close(fd);
        }
    }

    /**
     * Deletes the subvolume at {@code path} with everything in it, read-only or not. The directory is gone at once;
     * its space comes back once the cleaner has dropped the tree, after a commit. Subvolumes nested inside must be
     * deleted first (ENOTEMPTY).
     */
    public void deleteSubvolume(Path path) throws ErrnoException {
        Path abs = path.toAbsolutePath();
        ByteBuffer args = NativeMemory.allocate(VOL_ARGS_SIZE);
        putName(args, VOL_ARGS_NAME, VOL_ARGS_NAME_MAX, abs, "BTRFS_IOC_SNAP_DESTROY");
        int dir = openDir(parentOf(abs));
        try {
            if (LibC.ioctl(dir, BTRFS_IOC_SNAP_DESTROY, NativeMemory.address(args)) == 0) {
                return;
            }
            int errno = LibC.errno();
            // root may delete a read-only subvolume as it is; clearing the flag covers kernels or setups that refuse
            if ((errno == Errno.EPERM || errno == Errno.EROFS) && isSubvolume(abs) && isReadOnly(abs)) {
                setReadOnly(abs, false);
                ioctl(dir, BTRFS_IOC_SNAP_DESTROY, args, "BTRFS_IOC_SNAP_DESTROY", abs);
                return;
            }
            throw new ErrnoException("ioctl BTRFS_IOC_SNAP_DESTROY", abs.toString(), errno);
        } finally {
            Syscalls.close(dir);
        }
    }

    /** The id (tree id) of the subvolume holding {@code path}; 5 for the top level. */
    public long subvolumeId(Path path) throws ErrnoException {
        int fd = Syscalls.open(path, O_RDONLY, 0);
        try {
            ByteBuffer args = NativeMemory.allocate(INO_LOOKUP_SIZE);
            // treeid 0 asks for the tree of the fd's inode; the name that comes back (the path of objectid) is unused
            args.putLong(0, 0).putLong(8, FIRST_FREE_OBJECTID);
            ioctl(fd, BTRFS_IOC_INO_LOOKUP, args, "BTRFS_IOC_INO_LOOKUP", path);
            return args.getLong(0);
        } finally {
            Syscalls.close(fd);
        }
    }

    /** The filesystem's UUID as the name of its /sys/fs/btrfs directory spells it. */
    public String fsid(Path fs) throws ErrnoException {
        int fd = Syscalls.open(fs, O_RDONLY, 0);
        try {
            ByteBuffer args = NativeMemory.allocate(FS_INFO_SIZE);
            ioctl(fd, BTRFS_IOC_FS_INFO, args, "BTRFS_IOC_FS_INFO", fs);
            StringBuilder s = new StringBuilder(36);
            for (int i = 0; i < 16; i++) {
                if (i == 4 || i == 6 || i == 8 || i == 10) {
                    s.append('-');
                }
                int b = args.get(FS_INFO_FSID + i) & 0xff;
                s.append(Character.forDigit(b >> 4, 16)).append(Character.forDigit(b & 0xf, 16));
            }
            return s.toString();
        } finally {
            Syscalls.close(fd);
        }
    }

    /** Commits the current transaction, which also brings the qgroup figures in sysfs up to date. */
    public void sync(Path fs) throws ErrnoException {
        int fd = Syscalls.open(fs, O_RDONLY, 0);
        try {
            if (LibC.ioctl(fd, BTRFS_IOC_SYNC, 0) < 0) {
                throw new ErrnoException("ioctl BTRFS_IOC_SYNC", fs.toString(), LibC.errno());
            }
        } finally {
            Syscalls.close(fd);
        }
    }

    public QuotaMode quotaMode(Path anyPathOnFs) throws ErrnoException {
        Path fsDir = SYSFS.resolve(fsid(anyPathOnFs));
        Path qgroups = fsDir.resolve("qgroups");
        // the kernel removes the qgroups directory when quotas are disabled
        if (!Files.isDirectory(qgroups)) {
            return QuotaMode.DISABLED;
        }
        Path enabled = qgroups.resolve("enabled");
        if (Files.exists(enabled) && readSysfs(enabled).equals("0")) {
            return QuotaMode.DISABLED;
        }
        Path mode = qgroups.resolve("mode");
        if (Files.exists(mode)) {
            return switch (readSysfs(mode)) {
                case "qgroup" -> QuotaMode.QGROUP;
                case "squota" -> QuotaMode.SIMPLE;
                default -> QuotaMode.DISABLED;
            };
        }
        return Files.exists(fsDir.resolve("features/simple_quota")) ? QuotaMode.SIMPLE : QuotaMode.QGROUP;
    }

    /**
     * Turns quotas on: simple quotas if {@code simple}, else full qgroups, returning once full qgroups have finished
     * their first scan. Quotas already on stay in the mode they are in (the kernel answers success), so callers
     * should read {@link #quotaMode} afterwards.
     *
     * @throws SimpleQuotaUnsupportedException when the kernel does not know simple quotas
     */
    public void enableQuota(Path fs, boolean simple) throws ErrnoException {
        int fd = Syscalls.open(fs, O_RDONLY, 0);
        try {
            ByteBuffer args = NativeMemory.allocate(16);
            args.putLong(0, simple ? BTRFS_QUOTA_CTL_ENABLE_SIMPLE_QUOTA : BTRFS_QUOTA_CTL_ENABLE);
            if (LibC.ioctl(fd, BTRFS_IOC_QUOTA_CTL, NativeMemory.address(args)) < 0) {
                int errno = LibC.errno();
                if (simple && (errno == Errno.EINVAL || errno == Errno.EOPNOTSUPP)) {
                    throw new SimpleQuotaUnsupportedException(fs.toString(), errno);
                }
                throw new ErrnoException("ioctl BTRFS_IOC_QUOTA_CTL enable" + (simple ? " simple quota" : ""),
                        fs.toString(), errno);
            }
            if (!simple && LibC.ioctl(fd, BTRFS_IOC_QUOTA_RESCAN_WAIT, 0) < 0) {
                throw new ErrnoException("ioctl BTRFS_IOC_QUOTA_RESCAN_WAIT", fs.toString(), LibC.errno());
            }
        } finally {
            Syscalls.close(fd);
        }
    }

    /**
     * Limits qgroup 0/{@code subvolId} to {@code maxBytes} referenced bytes; 0 removes every limit. Both modes enforce
     * the referenced limit when space is reserved, so write(2) and fallocate(2) fail with EDQUOT rather than a later
     * commit. Under full qgroups referenced includes extents shared with the snapshot the subvolume came from; under
     * simple quotas it counts only what the subvolume wrote itself.
     */
    public void limit(Path fs, long subvolId, long maxBytes) throws ErrnoException {
        if (maxBytes < 0) {
            throw new IllegalArgumentException("negative limit " + maxBytes);
        }
        ByteBuffer args = NativeMemory.allocate(QGROUP_LIMIT_ARGS_SIZE);
        args.putLong(0, qgroupId(subvolId));
        args.putLong(8, BTRFS_QGROUP_LIMIT_MAX_RFER | BTRFS_QGROUP_LIMIT_MAX_EXCL);
        args.putLong(16, maxBytes == 0 ? QGROUP_LIMIT_CLEAR : maxBytes);
        // an exclusive limit left from elsewhere would be a second, hidden cap
        args.putLong(24, QGROUP_LIMIT_CLEAR);
        int fd = Syscalls.open(fs, O_RDONLY, 0);
        try {
            ioctl(fd, BTRFS_IOC_QGROUP_LIMIT, args, "BTRFS_IOC_QGROUP_LIMIT 0/" + subvolId, fs);
        } finally {
            Syscalls.close(fd);
        }
    }

    /** Qgroup 0/{@code subvolId} as of the last commit ({@link #sync} first for current figures). */
    public QgroupUsage usage(Path fs, long subvolId) throws ErrnoException {
        Path dir = SYSFS.resolve(fsid(fs)).resolve("qgroups").resolve("0_" + subvolId);
        long flags = readLong(dir.resolve("limit_flags"));
        return new QgroupUsage(readLong(dir.resolve("referenced")), readLong(dir.resolve("exclusive")),
                (flags & BTRFS_QGROUP_LIMIT_MAX_RFER) != 0 ? readLong(dir.resolve("max_referenced")) : 0,
                (flags & BTRFS_QGROUP_LIMIT_MAX_EXCL) != 0 ? readLong(dir.resolve("max_exclusive")) : 0);
    }

    /**
     * Removes qgroup 0/{@code subvolId}, normally after its subvolume was deleted; one that is already gone (newer
     * kernels remove it themselves once the subvolume is dropped) is fine.
     *
     * @throws QgroupBusyException while the qgroup still accounts space
     */
    public void destroyQgroup(Path fs, long subvolId) throws ErrnoException {
        ByteBuffer args = NativeMemory.allocate(16);
        args.putLong(0, 0).putLong(8, qgroupId(subvolId));
        int fd = Syscalls.open(fs, O_RDONLY, 0);
        try {
            if (LibC.ioctl(fd, BTRFS_IOC_QGROUP_CREATE, NativeMemory.address(args)) < 0) {
                int errno = LibC.errno();
                String what = fs + " qgroup 0/" + subvolId;
                if (errno == Errno.EBUSY) {
                    throw new QgroupBusyException(what);
                }
                if (errno != Errno.ENOENT) {
                    throw new ErrnoException("ioctl BTRFS_IOC_QGROUP_CREATE destroy", what, errno);
                }
            }
        } finally {
            Syscalls.close(fd);
        }
    }

    private static long qgroupId(long subvolId) {
        if (subvolId <= 0 || subvolId >>> 48 != 0) {
            throw new IllegalArgumentException("not a subvolume id: " + subvolId);
        }
        return subvolId; // level 0 in the top 16 bits
    }

    private static long getFlags(int fd, Path subvol) throws ErrnoException {
        ByteBuffer arg = NativeMemory.allocate(8);
        ioctl(fd, BTRFS_IOC_SUBVOL_GETFLAGS, arg, "BTRFS_IOC_SUBVOL_GETFLAGS", subvol);
        return arg.getLong(0);
    }

    private static int openDir(Path dir) throws ErrnoException {
        return Syscalls.open(dir, O_RDONLY | O_DIRECTORY, 0);
    }

    private static Path parentOf(Path abs) {
        Path parent = abs.getParent();
        if (parent == null) {
            throw new IllegalArgumentException("no parent directory: " + abs);
        }
        return parent;
    }

    private static void putName(ByteBuffer args, int offset, int max, Path abs, String op) throws ErrnoException {
        Path last = abs.getFileName();
        String name = last == null ? "" : last.toString();
        if (name.isEmpty() || name.equals(".") || name.equals("..")) {
            throw new IllegalArgumentException("not a subvolume name: " + abs);
        }
        byte[] b = name.getBytes(StandardCharsets.UTF_8);
        if (b.length > Math.min(max, 255)) {
            throw new ErrnoException("ioctl " + op, abs.toString(), Errno.ENAMETOOLONG);
        }
        args.put(offset, b);
    }

    private static void ioctl(int fd, long request, ByteBuffer arg, String name, Path path) throws ErrnoException {
        if (LibC.ioctl(fd, request, NativeMemory.address(arg)) < 0) {
            throw new ErrnoException("ioctl " + name, path.toString(), LibC.errno());
        }
    }

    private static long readLong(Path file) throws ErrnoException {
        String s = readSysfs(file);
        try {
            return Long.parseLong(s);
        } catch (NumberFormatException e) {
            throw new ErrnoException("parse " + s + " in", file.toString(), Errno.EINVAL);
        }
    }

    private static String readSysfs(Path file) throws ErrnoException {
        try {
            return Files.readString(file).strip();
        } catch (NoSuchFileException e) {
            throw new ErrnoException("read", file.toString(), Errno.ENOENT);
        } catch (AccessDeniedException e) {
            throw new ErrnoException("read", file.toString(), Errno.EACCES);
        } catch (IOException e) {
            throw new ErrnoException("read", file.toString(), Errno.EIO);
        }
    }
}
