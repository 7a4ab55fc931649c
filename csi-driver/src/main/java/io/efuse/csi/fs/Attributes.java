package io.efuse.csi.fs;

import static io.efuse.csi.sys.LinuxConstants.*;

import io.efuse.csi.fuse.FuseAbi;
import io.efuse.csi.fuse.FuseReply;
import io.efuse.csi.fuse.FuseRequest;
import io.efuse.csi.fuse.FuseStructs.GetattrIn;
import io.efuse.csi.fuse.FuseStructs.SetattrIn;
import io.efuse.csi.sys.Errno;
import io.efuse.csi.sys.LibC;
import java.nio.ByteBuffer;

/**
 * GETATTR and SETATTR of the nodes of an {@link EfuseFilesystem}, and the set-id bits a write by the caller clears.
 * A size change is charged to the daemon's size limit when the volume has one.
 */
final class Attributes {
    private final EfuseFilesystem fs;
    /** The daemon's own size limit, or null when the volume has none (or the kernel enforces it). */
    private final SpaceAccount account;
    private final SpaceCharges charges;

    Attributes(EfuseFilesystem fs, SpaceAccount account, SpaceCharges charges) {
        this.fs = fs;
        this.account = account;
        this.charges = charges;
    }

    int getattr(FuseRequest rq, FuseReply rp, Inode inode) {
        WorkerScratch s = EfuseFilesystem.scratch(rq);
        int fd;
        if ((rq.u32(GetattrIn.GETATTR_FLAGS) & FuseAbi.GETATTR_FH) != 0) {
            fd = fs.fileFd(rq.nodeId(), rq.u64(GetattrIn.FH));
        } else {
            fd = fs.fdOf(s, inode);
            if (fd < 0) {
                return -fd;
            }
        }
        int err = EfuseFilesystem.stat(s, fd);
        if (err != 0) {
            return err;
        }
        inode.mode = s.buf.getShort(WorkerScratch.STATX + 28) & 0xffff;
        fs.putAttrOut(rp, s);
        return 0;
    }

    /**
     * A size change: growing makes a hole and allocates nothing, so it is never EDQUOT, and whatever the backing
     * filesystem says of the size (EFBIG past its largest file, or a sparse file) is the answer. Shrinking gives
     * back the blocks it freed.
     */
    private int truncate(FuseRequest rq, WorkerScratch s, int ifd, int fh, long size) {
        SpaceAccount a = account;
        if (a == null) {
            return (fh >= 0 ? LibC.ftruncate(fh, size) : LibC.truncate(s.procPath(ifd), size)) < 0 ? LibC.errno() : 0;
        }
        var lock = a.lockFor(rq.nodeId());
        lock.lock();
        try {
            long before = SpaceCharges.allocatedOf(s, ifd);
            boolean shrinks = before >= 0 && size < SpaceCharges.sizeMeasured(s);
            if ((fh >= 0 ? LibC.ftruncate(fh, size) : LibC.truncate(s.procPath(ifd), size)) < 0) {
                return LibC.errno();
            }
            if (shrinks) {
                charges.settle(s, ifd, 0, before);
            }
            return 0;
        } finally {
            lock.unlock();
        }
    }

    int setattr(FuseRequest rq, FuseReply rp, Inode inode) {
        WorkerScratch s = EfuseFilesystem.scratch(rq);
        int ifd = fs.fdOf(s, inode);
        if (ifd < 0) {
            return -ifd;
        }
        int valid = rq.u32(SetattrIn.VALID);
        boolean hasFh = (valid & FuseAbi.FATTR_FH) != 0;
        int fh = hasFh ? fs.fileFd(rq.nodeId(), rq.u64(SetattrIn.FH)) : -1;
        boolean symlink = isSymlink(inode.mode);
        if ((valid & FuseAbi.FATTR_SIZE) != 0) {
            long size = rq.u64(SetattrIn.SIZE_);
            int err = truncate(rq, s, ifd, fh, size);
            if (err != 0) {
                return err;
            }
        }
        if ((valid & ~(FuseAbi.FATTR_FH | FuseAbi.FATTR_LOCKOWNER | FuseAbi.FATTR_CTIME)) == 0) {
            // chown(2) to the current owner (-1, -1): with KILLPRIV_V2 the kernel leaves killing the
            // set-id bits to the daemon but sends no attribute at all (ctime only travels with the
            // writeback cache). The same chown on the backing file updates ctime and clears set-id
            // bits exactly as the backing filesystem does natively.
            if (LibC.fchownat(ifd, s.empty(), -1, -1, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
                return LibC.errno();
            }
        }
        if ((valid & (FuseAbi.FATTR_UID | FuseAbi.FATTR_GID)) != 0) {
            int uid = (valid & FuseAbi.FATTR_UID) != 0 ? rq.u32(SetattrIn.UID) : -1;
            int gid = (valid & FuseAbi.FATTR_GID) != 0 ? rq.u32(SetattrIn.GID) : -1;
            if (LibC.fchownat(ifd, s.empty(), uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
                return LibC.errno();
            }
        }
        if ((valid & FuseAbi.FATTR_MODE) != 0) {
            if (symlink) {
                return Errno.EOPNOTSUPP;
            }
            int mode = rq.u32(SetattrIn.MODE) & 07777;
            int r = fh >= 0 ? LibC.fchmod(fh, mode) : LibC.fchmodat(AT_FDCWD, s.procPath(ifd), mode, 0);
            if (r < 0) {
                return LibC.errno();
            }
        } else if ((valid & FuseAbi.FATTR_KILL_SUIDGID) != 0) {
            int err = killSuidSgid(s, inode);
            if (err != 0) {
                return err;
            }
        }
        if ((valid & (FuseAbi.FATTR_ATIME | FuseAbi.FATTR_MTIME)) != 0) {
            ByteBuffer b = s.buf;
            int t = WorkerScratch.SMALL;
            putTime(b, t, valid, FuseAbi.FATTR_ATIME, FuseAbi.FATTR_ATIME_NOW, rq.u64(SetattrIn.ATIME),
                    rq.u32(SetattrIn.ATIMENSEC));
            putTime(b, t + 16, valid, FuseAbi.FATTR_MTIME, FuseAbi.FATTR_MTIME_NOW, rq.u64(SetattrIn.MTIME),
                    rq.u32(SetattrIn.MTIMENSEC));
            int r;
            if (fh >= 0) {
                r = LibC.futimens(fh, s.small());
            } else if (symlink) {
                r = LibC.utimensat(ifd, s.empty(), s.small(), AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
            } else {
                r = LibC.utimensat(AT_FDCWD, s.procPath(ifd), s.small(), 0);
            }
            if (r < 0) {
                return LibC.errno();
            }
        }
        int err = EfuseFilesystem.stat(s, ifd);
        if (err != 0) {
            return err;
        }
        inode.mode = s.buf.getShort(WorkerScratch.STATX + 28) & 0xffff;
        fs.putAttrOut(rp, s);
        return 0;
    }

    private static void putTime(ByteBuffer b, int off, int valid, int setBit, int nowBit, long sec, int nsec) {
        if ((valid & setBit) == 0) {
            b.putLong(off, 0).putLong(off + 8, UTIME_OMIT);
        } else if ((valid & nowBit) != 0) {
            b.putLong(off, 0).putLong(off + 8, UTIME_NOW);
        } else {
            b.putLong(off, sec).putLong(off + 8, nsec);
        }
    }

    /**
     * Clears set-user-ID and set-group-ID (with group execute) as a write by the caller would have
     * done: the daemon writes as root, which the backing filesystem would exempt.
     */
    int killSuidSgid(WorkerScratch s, Inode inode) {
        int mode = inode.mode;
        if (!isRegular(mode)) {
            return 0;
        }
        int kill = mode & S_ISUID;
        if ((mode & S_ISGID) != 0 && (mode & S_IXGRP) != 0) {
            kill |= S_ISGID;
        }
        if (kill == 0) {
            return 0;
        }
        int newMode = mode & 07777 & ~kill;
        int fd = fs.fdOf(s, inode);
        if (fd < 0) {
            return -fd;
        }
        if (LibC.fchmodat(AT_FDCWD, s.procPath(fd), newMode, 0) < 0) {
            return LibC.errno();
        }
        inode.mode = (mode & S_IFMT) | newMode;
        return 0;
    }
}
