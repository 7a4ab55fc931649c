package io.efuse.csi.sys;

import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * Kernel project quotas (ext4 with the quota and project features, XFS with prjquota): the project id of a
 * directory through FS_IOC_FSGETXATTR/FSSETXATTR, and limits and usage through quotactl_fd(2), which takes a
 * descriptor of any file on the filesystem instead of its block device.
 */
public final class ProjectQuotaSyscalls {
    // _IOR('X', 31, struct fsxattr) and _IOW('X', 32, struct fsxattr); struct fsxattr is 28 bytes
    private static final long FS_IOC_FSGETXATTR = 0x801C581FL;
    private static final long FS_IOC_FSSETXATTR = 0x401C5820L;
    private static final int FS_XFLAG_PROJINHERIT = 0x00000200;
    private static final int FSXATTR_SIZE = 28;
    private static final int FSX_XFLAGS = 0;
    private static final int FSX_PROJID = 12;

    private static final long SYS_QUOTACTL_FD = 443; // x86_64 and aarch64 alike (the shared new-syscall table)
    private static final int PRJQUOTA = 2;
    private static final int Q_GETQUOTA = 0x800007;
    private static final int Q_SETQUOTA = 0x800008;
    private static final int Q_XGETQSTAT = ('X' << 8) + 5;
    private static final int FS_QUOTA_PDQ_ACCT = 1 << 4;
    private static final int FS_QUOTA_PDQ_ENFD = 1 << 5;

    // struct if_dqblk: eight u64 then a u32 (72 bytes with padding); block limits are in 1 KiB units
    private static final int DQBLK_SIZE = 72;
    private static final int DQB_BHARDLIMIT = 0;
    private static final int DQB_BSOFTLIMIT = 8;
    private static final int DQB_CURSPACE = 16;
    private static final int DQB_IHARDLIMIT = 24;
    private static final int DQB_ISOFTLIMIT = 32;
    private static final int DQB_CURINODES = 40;
    private static final int DQB_VALID = 64;
    private static final int QIF_BLIMITS = 1;
    private static final int QIF_ILIMITS = 4;

    /** What the filesystem holding a path does with project quotas. */
    public record QuotaState(boolean accounting, boolean enforcing) {}

    /** Usage of one project as the kernel accounts it. */
    public record ProjectUsage(long bytes, long inodes, long byteLimit, long inodeLimit) {}

    public QuotaState state(Path path) throws ErrnoException {
        int fd = Syscalls.open(path, LinuxConstants.O_RDONLY, 0);
        try {
            ByteBuffer stat = NativeMemory.allocate(128);
            stat.put(0, (byte) 1); // FS_QSTAT_VERSION
            quotactl(fd, path, "Q_XGETQSTAT", Q_XGETQSTAT, 0, stat);
            int flags = Short.toUnsignedInt(stat.getShort(2));
            return new QuotaState((flags & FS_QUOTA_PDQ_ACCT) != 0, (flags & FS_QUOTA_PDQ_ENFD) != 0);
        } finally {
            Syscalls.close(fd);
        }
    }

    public int projectId(Path dir) throws ErrnoException {
        int fd = Syscalls.open(dir, LinuxConstants.O_RDONLY, 0);
        try {
            ByteBuffer fsx = NativeMemory.allocate(FSXATTR_SIZE);
            ioctl(fd, dir, "FS_IOC_FSGETXATTR", FS_IOC_FSGETXATTR, fsx);
            return fsx.getInt(FSX_PROJID);
        } finally {
            Syscalls.close(fd);
        }
    }

    /** Sets the project id of {@code dir} and marks it so that everything created below inherits the id. */
    public void assignProject(Path dir, int projectId) throws ErrnoException {
        int fd = Syscalls.open(dir, LinuxConstants.O_RDONLY, 0);
        try {
            ByteBuffer fsx = NativeMemory.allocate(FSXATTR_SIZE);
            ioctl(fd, dir, "FS_IOC_FSGETXATTR", FS_IOC_FSGETXATTR, fsx);
            fsx.putInt(FSX_PROJID, projectId);
            fsx.putInt(FSX_XFLAGS, fsx.getInt(FSX_XFLAGS) | FS_XFLAG_PROJINHERIT);
            ioctl(fd, dir, "FS_IOC_FSSETXATTR", FS_IOC_FSSETXATTR, fsx);
        } finally {
            Syscalls.close(fd);
        }
    }

    /** Hard limits for a project; 0 means no limit. Bytes are rounded up to whole KiB, the kernel's unit. */
    public void setLimits(Path anyPathOnFs, int projectId, long bytes, long inodes) throws ErrnoException {
        int fd = Syscalls.open(anyPathOnFs, LinuxConstants.O_RDONLY, 0);
        try {
            ByteBuffer dq = NativeMemory.allocate(DQBLK_SIZE);
            long blocks = (bytes + 1023) / 1024;
            dq.putLong(DQB_BHARDLIMIT, blocks);
            dq.putLong(DQB_BSOFTLIMIT, blocks);
            dq.putLong(DQB_IHARDLIMIT, inodes);
            dq.putLong(DQB_ISOFTLIMIT, inodes);
            dq.putInt(DQB_VALID, QIF_BLIMITS | QIF_ILIMITS);
            quotactl(fd, anyPathOnFs, "Q_SETQUOTA", Q_SETQUOTA, projectId, dq);
        } finally {
            Syscalls.close(fd);
        }
    }

    public ProjectUsage usage(Path anyPathOnFs, int projectId) throws ErrnoException {
        int fd = Syscalls.open(anyPathOnFs, LinuxConstants.O_RDONLY, 0);
        try {
            ByteBuffer dq = NativeMemory.allocate(DQBLK_SIZE);
            quotactl(fd, anyPathOnFs, "Q_GETQUOTA", Q_GETQUOTA, projectId, dq);
            return new ProjectUsage(dq.getLong(DQB_CURSPACE), dq.getLong(DQB_CURINODES),
                    dq.getLong(DQB_BHARDLIMIT) * 1024, dq.getLong(DQB_IHARDLIMIT));
        } finally {
            Syscalls.close(fd);
        }
    }

    private static void ioctl(int fd, Path path, String name, long request, ByteBuffer arg) throws ErrnoException {
        if (LibC.ioctl(fd, request, NativeMemory.address(arg)) < 0) {
            throw new ErrnoException("ioctl " + name, path.toString(), LibC.errno());
        }
    }

    private static void quotactl(int fd, Path path, String name, int cmd, int id, ByteBuffer addr)
            throws ErrnoException {
        long qcmd = ((long) cmd << 8) | (PRJQUOTA & 0xff);
        if (LibC.syscall(SYS_QUOTACTL_FD, fd, qcmd, id, NativeMemory.address(addr), 0, 0) < 0) {
            throw new ErrnoException("quotactl_fd " + name + " project " + id, path.toString(), LibC.errno());
        }
    }
}
