package io.efuse.csi.fs;

import static io.efuse.csi.sys.LinuxConstants.*;

import io.efuse.csi.sys.LibC;
import java.nio.ByteBuffer;

/**
 * What the operations of an {@link EfuseFilesystem} charge to the daemon's own size limit: blocks reserved before
 * an operation may allocate them and settled to what it did, inodes for new files, and what a removal frees. Without
 * a limit (account null) the inode and removal methods allow and do nothing; reserve and settle are only called with
 * one.
 */
final class SpaceCharges {
    private final SpaceAccount account;

    SpaceCharges(SpaceAccount account) {
        this.account = account;
    }

    /**
     * statx of fd into the second region: its allocated bytes (stx_blocks × 512), with its size left at
     * STATX2 + 40; -1 if it cannot be measured (callers then charge nothing).
     */
    static long allocatedOf(WorkerScratch s, int fd) {
        if (LibC.statx(fd, s.empty(), EfuseFilesystem.STATX_FLAGS, STATX_BASIC_STATS, s.statx2()) < 0) {
            return -1;
        }
        return s.buf.getLong(WorkerScratch.STATX2 + 48) * 512;
    }

    static long sizeMeasured(WorkerScratch s) {
        return s.buf.getLong(WorkerScratch.STATX2 + 40);
    }

    /**
     * Reserves what an operation on [offset, end) of fd may allocate; fd's allocated bytes must have just been
     * measured (allocated, with its size in the scratch). Returns the reservation (0: nothing to settle after),
     * or -1 if the volume is full. Past the backing filesystem's largest file size nothing is reserved, so that
     * the backing filesystem answers EFBIG, as it does before it would allocate.
     */
    long reserve(WorkerScratch s, long allocated, long offset, long end) {
        if (allocated < 0) {
            return 0;
        }
        SpaceAccount a = account;
        long r = a.mayAllocate(offset, Math.min(end, a.maxFileSize()), sizeMeasured(s), allocated);
        return r == 0 || a.chargeBytes(r) ? r : -1;
    }

    /** After an operation that may have changed fd's blocks: settles the reservation to the measured change. */
    void settle(WorkerScratch s, int fd, long reserved, long before) {
        if (before < 0) {
            return;
        }
        long after = allocatedOf(s, fd);
        account.settle(reserved, after < 0 ? reserved : after - before);
    }

    /** Before removing name in parent: what its removal frees, {allocated bytes, 1 if it is the last link}; null if unknown. */
    long[] removalOf(WorkerScratch s, Inode parent, long name) {
        int fd = LibC.openat(parent.fd, name, EfuseFilesystem.PATH_FLAGS, 0);
        if (fd < 0) {
            return null;
        }
        int r = LibC.statx(fd, s.empty(), EfuseFilesystem.STATX_FLAGS, STATX_BASIC_STATS, s.statx2());
        LibC.close(fd);
        if (r < 0) {
            return null;
        }
        ByteBuffer b = s.buf;
        int mode = b.getShort(WorkerScratch.STATX2 + 28) & 0xffff;
        int nlink = b.getInt(WorkerScratch.STATX2 + 16);
        boolean last = isDir(mode) || nlink <= 1;
        return new long[] {isRegular(mode) ? b.getLong(WorkerScratch.STATX2 + 48) * 512 : 0, last ? 1 : 0};
    }

    /** After a removal that removalOf measured: gives back what it freed. */
    void freed(long[] removed) {
        if (account != null && removed != null && removed[1] == 1) {
            account.releaseInode();
            account.releaseBytes(removed[0]);
        }
    }

    boolean chargeInode() {
        return account == null || account.chargeInode();
    }

    void refundInode() {
        if (account != null) {
            account.releaseInode();
        }
    }
}
