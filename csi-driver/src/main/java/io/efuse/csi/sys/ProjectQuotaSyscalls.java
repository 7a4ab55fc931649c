package io.efuse.csi.sys;

import com.sun.jna.LastErrorException;
import com.sun.jna.Library;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;

/**
 * Kernel project quotas (ext4 with the quota and project features, XFS with prjquota): the project id of a
 * directory through FS_IOC_FSGETXATTR/FSSETXATTR, and limits and usage through quotactl_fd(2), which takes a
 * descriptor of any file on the filesystem instead of its block device.
 */
public final class ProjectQuotaSyscalls {
    private static final int O_RDONLY = 0;
    private static final int O_CLOEXEC = 02000000;

    // _IOR('X', 31, struct fsxattr) and _IOW('X', 32, struct fsxattr); struct fsxattr is 28 bytes
    private static final long FS_IOC_FSGETXATTR = 0x801C581FL;
    private static final long FS_IOC_FSSETXATTR = 0x401C5820L;
    private static final int FS_XFLAG_PROJINHERIT = 0x00000200;
    private static final int FSXATTR_SIZE = 28;
    private static final int FSX_XFLAGS = 0;
    private static final int FSX_PROJID = 12;

    private static final long SYS_QUOTACTL_FD = 443; // x86_64 and aarch64 alike (new syscall table)
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

    private interface LibC extends Library {
        int open(String path, int flags) throws LastErrorException;

        int close(int fd) throws LastErrorException;

        int ioctl(int fd, long request, Pointer arg) throws LastErrorException;

        long syscall(long number, int fd, int cmd, int id, Pointer addr) throws LastErrorException;
    }

    private final LibC libc = Native.load("c", LibC.class);

    /** What the filesystem holding {@code path} does with project quotas. */
    public record QuotaState(boolean accounting, boolean enforcing) {}

    /** Usage of one project as the kernel accounts it. */
    public record ProjectUsage(long bytes, long inodes, long byteLimit, long inodeLimit) {}

    public QuotaState state(String path) throws SyscallException {
        int fd = open(path);
        try (Memory stat = new Memory(128)) {
            stat.clear();
            stat.setByte(0, (byte) 1); // FS_QSTAT_VERSION
            quotactl(fd, path, "Q_XGETQSTAT", qcmd(Q_XGETQSTAT), 0, stat);
            int flags = Short.toUnsignedInt(stat.getShort(2));
            return new QuotaState((flags & FS_QUOTA_PDQ_ACCT) != 0, (flags & FS_QUOTA_PDQ_ENFD) != 0);
        } finally {
            close(fd);
        }
    }

    public int projectId(String dir) throws SyscallException {
        int fd = open(dir);
        try (Memory fsx = new Memory(FSXATTR_SIZE)) {
            ioctl(fd, dir, "FS_IOC_FSGETXATTR", FS_IOC_FSGETXATTR, fsx);
            return fsx.getInt(FSX_PROJID);
        } finally {
            close(fd);
        }
    }

    /** Sets the project id of {@code dir} and marks it so that everything created below inherits the id. */
    public void assignProject(String dir, int projectId) throws SyscallException {
        int fd = open(dir);
        try (Memory fsx = new Memory(FSXATTR_SIZE)) {
            ioctl(fd, dir, "FS_IOC_FSGETXATTR", FS_IOC_FSGETXATTR, fsx);
            fsx.setInt(FSX_PROJID, projectId);
            fsx.setInt(FSX_XFLAGS, fsx.getInt(FSX_XFLAGS) | FS_XFLAG_PROJINHERIT);
            ioctl(fd, dir, "FS_IOC_FSSETXATTR", FS_IOC_FSSETXATTR, fsx);
        } finally {
            close(fd);
        }
    }

    /** Hard limits for a project; 0 means no limit. Bytes are rounded up to whole KiB, the kernel's unit. */
    public void setLimits(String anyPathOnFs, int projectId, long bytes, long inodes) throws SyscallException {
        int fd = open(anyPathOnFs);
        try (Memory dq = new Memory(DQBLK_SIZE)) {
            dq.clear();
            long blocks = (bytes + 1023) / 1024;
            dq.setLong(DQB_BHARDLIMIT, blocks);
            dq.setLong(DQB_BSOFTLIMIT, blocks);
            dq.setLong(DQB_IHARDLIMIT, inodes);
            dq.setLong(DQB_ISOFTLIMIT, inodes);
            dq.setInt(DQB_VALID, QIF_BLIMITS | QIF_ILIMITS);
            quotactl(fd, anyPathOnFs, "Q_SETQUOTA", qcmd(Q_SETQUOTA), projectId, dq);
        } finally {
            close(fd);
        }
    }

    public ProjectUsage usage(String anyPathOnFs, int projectId) throws SyscallException {
        int fd = open(anyPathOnFs);
        try (Memory dq = new Memory(DQBLK_SIZE)) {
            dq.clear();
            quotactl(fd, anyPathOnFs, "Q_GETQUOTA", qcmd(Q_GETQUOTA), projectId, dq);
            return new ProjectUsage(dq.getLong(DQB_CURSPACE), dq.getLong(DQB_CURINODES),
                    dq.getLong(DQB_BHARDLIMIT) * 1024, dq.getLong(DQB_IHARDLIMIT));
        } finally {
            close(fd);
        }
    }

    private static int qcmd(int cmd) {
        return (cmd << 8) | (PRJQUOTA & 0xff);
    }

    private int open(String path) throws SyscallException {
        try {
            return libc.open(path, O_RDONLY | O_CLOEXEC);
        } catch (LastErrorException e) {
            throw new SyscallException("open", path, e.getErrorCode(), MountSyscalls.strerror(e));
        }
    }

    private void close(int fd) {
        try {
            libc.close(fd);
        } catch (LastErrorException ignored) {
            // a failed close of a read-only descriptor loses nothing
        }
    }

    private void ioctl(int fd, String path, String name, long request, Pointer arg) throws SyscallException {
        try {
            libc.ioctl(fd, request, arg);
        } catch (LastErrorException e) {
            throw new SyscallException("ioctl " + name, path, e.getErrorCode(), MountSyscalls.strerror(e));
        }
    }

    private void quotactl(int fd, String path, String name, int cmd, int id, Pointer addr) throws SyscallException {
        try {
            libc.syscall(SYS_QUOTACTL_FD, fd, cmd, id, addr);
        } catch (LastErrorException e) {
            throw new SyscallException("quotactl_fd " + name + " project " + id, path, e.getErrorCode(),
                    MountSyscalls.strerror(e));
        }
    }

}
