package io.efuse.csi.fs;

import static io.efuse.csi.sys.LinuxConstants.*;

import io.efuse.csi.fuse.FuseAbi;
import io.efuse.csi.fuse.FuseReply;
import io.efuse.csi.fuse.FuseRequest;
import io.efuse.csi.fuse.FuseStructs.CopyFileRangeIn;
import io.efuse.csi.fuse.FuseStructs.FallocateIn;
import io.efuse.csi.fuse.FuseStructs.FsyncIn;
import io.efuse.csi.fuse.FuseStructs.LseekIn;
import io.efuse.csi.fuse.FuseStructs.LseekOut;
import io.efuse.csi.fuse.FuseStructs.ReadIn;
import io.efuse.csi.fuse.FuseStructs.WriteIn;
import io.efuse.csi.fuse.FuseStructs.WriteOut;
import io.efuse.csi.sys.Errno;
import io.efuse.csi.sys.LibC;

/**
 * The data of the open files of an {@link EfuseFilesystem} on the daemon's path: READ, WRITE, FLUSH, FSYNC,
 * FALLOCATE, LSEEK and COPY_FILE_RANGE, charged to the daemon's size limit when the volume has one.
 */
final class FileData {
    private final EfuseFilesystem fs;
    private final InodeTable inodes;
    /** The daemon's own size limit, or null when the volume has none (or the kernel enforces it). */
    private final SpaceAccount account;
    private final SpaceCharges charges;
    private final Attributes attributes;

    FileData(EfuseFilesystem fs, InodeTable inodes, SpaceAccount account, SpaceCharges charges,
            Attributes attributes) {
        this.fs = fs;
        this.inodes = inodes;
        this.account = account;
        this.charges = charges;
        this.attributes = attributes;
    }

    int read(FuseRequest rq, FuseReply rp) {
        int fd = fs.fileFd(rq.nodeId(), rq.u64(ReadIn.FH));
        int size = Math.min(rq.u32(ReadIn.SIZE_), rp.capacity());
        long n = LibC.pread(fd, rp.payloadAddress(), size, rq.u64(ReadIn.OFFSET));
        if (n < 0) {
            return LibC.errno();
        }
        rp.payloadLength((int) n);
        return 0;
    }

    int write(FuseRequest rq, FuseReply rp) {
        int fd = fs.fileFd(rq.nodeId(), rq.u64(WriteIn.FH));
        int size = rq.u32(WriteIn.SIZE_);
        if (size > rq.argLength() - WriteIn.SIZE) {
            return Errno.EINVAL;
        }
        if ((rq.u32(WriteIn.WRITE_FLAGS) & FuseAbi.WRITE_KILL_SUIDGID) != 0) {
            Inode inode = inodes.get(rq.nodeId());
            if (inode != null && (inode.mode & (S_ISUID | S_ISGID)) != 0) {
                attributes.killSuidSgid(EfuseFilesystem.scratch(rq), inode);
            }
        }
        long offset = rq.u64(WriteIn.OFFSET);
        long n = account == null ? LibC.pwrite(fd, rq.argAddress(WriteIn.SIZE), size, offset)
                : chargedWrite(rq, fd, size, offset);
        if (n < 0) {
            return account == null ? LibC.errno() : (int) -n;
        }
        rp.putU32(WriteOut.SIZE_, (int) n);
        rp.putU32(WriteOut.PADDING, 0);
        rp.payloadLength(WriteOut.SIZE);
        return 0;
    }

    /**
     * A write on a volume whose size the daemon enforces: reserves the blocks it may allocate, writes, and
     * settles to what it allocated. An overwrite inside a file without holes may allocate nothing, and runs
     * without the file's lock once measured. Returns the bytes written or -errno.
     */
    private long chargedWrite(FuseRequest rq, int fd, int size, long offset) {
        WorkerScratch s = EfuseFilesystem.scratch(rq);
        var lock = account.lockFor(rq.nodeId());
        lock.lock();
        boolean locked = true;
        try {
            long before = SpaceCharges.allocatedOf(s, fd);
            long reserved = charges.reserve(s, before, offset, offset + size);
            if (reserved < 0) {
                return -Errno.EDQUOT;
            }
            if (reserved == 0) {
                lock.unlock();
                locked = false;
            }
            long n = LibC.pwrite(fd, rq.argAddress(WriteIn.SIZE), size, offset);
            n = n < 0 ? -LibC.errno() : n;
            if (locked) {
                charges.settle(s, fd, reserved, before);
            }
            return n;
        } finally {
            if (locked) {
                lock.unlock();
            }
        }
    }

    int flush(FuseRequest rq, FuseReply rp) {
        // Data is already in the backing file (no daemon-side buffering); nothing to push on close.
        return 0;
    }

    int fsync(FuseRequest rq, FuseReply rp) {
        int fd = fs.fileFd(rq.nodeId(), rq.u64(FsyncIn.FH));
        boolean data = (rq.u32(FsyncIn.FSYNC_FLAGS) & FuseAbi.FSYNC_FDATASYNC) != 0;
        return (data ? LibC.fdatasync(fd) : LibC.fsync(fd)) < 0 ? LibC.errno() : 0;
    }

    int fallocate(FuseRequest rq, FuseReply rp) {
        int fd = fs.fileFd(rq.nodeId(), rq.u64(FallocateIn.FH));
        int mode = rq.u32(FallocateIn.MODE);
        long offset = rq.u64(FallocateIn.OFFSET);
        long length = rq.u64(FallocateIn.LENGTH);
        SpaceAccount a = account;
        if (a == null || offset < 0 || length <= 0 || offset + length < 0 || offset + length > a.maxFileSize()) {
            // Out of range: the backing filesystem's own answer (EINVAL, EFBIG) is the one a filesystem gives.
            return LibC.fallocate(fd, mode, offset, length) < 0 ? LibC.errno() : 0;
        }
        WorkerScratch s = EfuseFilesystem.scratch(rq);
        var lock = a.lockFor(rq.nodeId());
        lock.lock();
        try {
            long before = SpaceCharges.allocatedOf(s, fd);
            // Punching, collapsing and inserting move or free blocks without allocating data; the rest
            // (plain, KEEP_SIZE, ZERO_RANGE, UNSHARE_RANGE, WRITE_ZEROES) may allocate the whole range.
            boolean allocates = (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_INSERT_RANGE)) == 0;
            long reserved = allocates ? charges.reserve(s, before, offset, offset + length) : 0;
            if (reserved < 0) {
                return Errno.EDQUOT;
            }
            int r = LibC.fallocate(fd, mode, offset, length);
            int err = r < 0 ? LibC.errno() : 0;
            charges.settle(s, fd, reserved, before);
            return err;
        } finally {
            lock.unlock();
        }
    }

    private static final int FALLOC_FL_PUNCH_HOLE = 0x02;
    private static final int FALLOC_FL_COLLAPSE_RANGE = 0x08;
    private static final int FALLOC_FL_INSERT_RANGE = 0x20;

    int lseek(FuseRequest rq, FuseReply rp) {
        long r = LibC.lseek(fs.fileFd(rq.nodeId(), rq.u64(LseekIn.FH)), rq.u64(LseekIn.OFFSET), rq.u32(LseekIn.WHENCE));
        if (r < 0) {
            return LibC.errno();
        }
        rp.putU64(LseekOut.OFFSET, r);
        rp.payloadLength(LseekOut.SIZE);
        return 0;
    }

    int copyFileRange(FuseRequest rq, FuseReply rp) {
        WorkerScratch s = EfuseFilesystem.scratch(rq);
        s.buf.putLong(WorkerScratch.SMALL, rq.u64(CopyFileRangeIn.OFF_IN));
        s.buf.putLong(WorkerScratch.SMALL + 8, rq.u64(CopyFileRangeIn.OFF_OUT));
        long len = Math.min(rq.u64(CopyFileRangeIn.LEN), Integer.MAX_VALUE & ~4095L);
        int out = fs.fileFd(rq.u64(CopyFileRangeIn.NODEID_OUT), rq.u64(CopyFileRangeIn.FH_OUT));
        long offOut = rq.u64(CopyFileRangeIn.OFF_OUT);
        int in = fs.fileFd(rq.nodeId(), rq.u64(CopyFileRangeIn.FH_IN));
        int flags = (int) rq.u64(CopyFileRangeIn.FLAGS);
        long n;
        SpaceAccount a = account;
        if (a == null) {
            n = LibC.copy_file_range(in, s.small(), out, s.small() + 8, len, flags);
        } else {
            // Nothing is copied past the source's end: only what is there can be allocated (a reflink, nothing).
            if (EfuseFilesystem.stat(s, in) == 0) {
                len = Math.max(0, Math.min(len, s.buf.getLong(WorkerScratch.STATX + 40) - rq.u64(CopyFileRangeIn.OFF_IN)));
            }
            var lock = a.lockFor(rq.u64(CopyFileRangeIn.NODEID_OUT));
            lock.lock();
            try {
                long before = SpaceCharges.allocatedOf(s, out);
                long reserved = charges.reserve(s, before, offOut, offOut + len);
                if (reserved < 0) {
                    return Errno.EDQUOT;
                }
                n = LibC.copy_file_range(in, s.small(), out, s.small() + 8, len, flags);
                int err = LibC.errno();
                charges.settle(s, out, reserved, before);
                if (n < 0) {
                    return err;
                }
            } finally {
                lock.unlock();
            }
        }
        if (n < 0) {
            return LibC.errno();
        }
        rp.putU32(WriteOut.SIZE_, (int) n);
        rp.putU32(WriteOut.PADDING, 0);
        rp.payloadLength(WriteOut.SIZE);
        return 0;
    }
}
