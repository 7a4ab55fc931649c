package io.efuse.csi.fs;

import static io.efuse.csi.sys.LinuxConstants.*;

import io.efuse.csi.sys.Errno;
import io.efuse.csi.sys.LibC;
import io.efuse.csi.sys.NativeMemory;
import io.efuse.csi.sys.Statx;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The daemon's own size limit of a volume, for backing filesystems without project quotas. Bytes are what
 * regular files really occupy on the backing filesystem (stx_blocks × 512, as a quota counts them: a sparse
 * file costs only its data, a hard-linked file once), inodes are the files, directories and links in the
 * tree.
 *
 * <p>An operation that may allocate reserves, before it runs, the most it can allocate (its range rounded out
 * to whole blocks, never more than the file's holes and growth), is refused with EDQUOT if that passes the
 * limit, and afterwards settles the reservation to the change of the file's stx_blocks. Operations that free
 * blocks give back the measured change. A size change alone allocates nothing and is never refused. The
 * measure-operate-measure sequences of one file run under one of {@link #STRIPES} locks, so that two of them
 * never count each other's blocks; what changes a file's blocks outside them (writes through a shared mapping
 * of the backing file, changes behind the mount, an unlinked file still open elsewhere, whose blocks are given
 * back at unlink rather than at its last close) is counted wrong by what it changed until the next mount
 * measures the tree again.
 */
final class SpaceAccount {
    static final int STRIPES = 64;

    private volatile long maxBytes;
    private volatile long maxInodes;
    private final AtomicLong usedBytes;
    private final AtomicLong usedInodes;
    private final long blockSize;
    private final long maxFileSize;
    private final ReentrantLock[] locks = new ReentrantLock[STRIPES];

    SpaceAccount(long maxBytes, long maxInodes, long usedBytes, long usedInodes) {
        this(maxBytes, maxInodes, usedBytes, usedInodes, 4096, Long.MAX_VALUE);
    }

    /**
     * @param blockSize the backing filesystem's allocation unit (statfs f_frsize)
     * @param maxFileSize the largest size a backing file may have (the backing filesystem's s_maxbytes)
     */
    SpaceAccount(long maxBytes, long maxInodes, long usedBytes, long usedInodes, long blockSize, long maxFileSize) {
        if (blockSize <= 0 || Long.bitCount(blockSize) != 1) {
            throw new IllegalArgumentException("block size must be a power of two, not " + blockSize);
        }
        this.maxBytes = maxBytes;
        this.maxInodes = maxInodes;
        this.usedBytes = new AtomicLong(usedBytes);
        this.usedInodes = new AtomicLong(usedInodes);
        this.blockSize = blockSize;
        this.maxFileSize = maxFileSize;
        for (int i = 0; i < STRIPES; i++) {
            locks[i] = new ReentrantLock();
        }
    }

    /**
     * Measures what a backing tree already holds (allocated blocks of regular files, hard links counted once),
     * the backing filesystem's block size and its largest file size.
     */
    static SpaceAccount measure(Path root, long maxBytes, long maxInodes) throws IOException {
        long[] totals = new long[2];
        Set<Object> seen = new HashSet<>();
        ByteBuffer sx = NativeMemory.allocate(Statx.SIZE);
        long sxa = NativeMemory.address(sx);
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) {
                if (!dir.equals(root)) {
                    totals[1]++;
                }
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
                Object key = attrs.fileKey();
                if (key == null || seen.add(key)) {
                    totals[1]++;
                    if (attrs.isRegularFile()) {
                        ByteBuffer p = NativeMemory.cString(file.toString());
                        if (LibC.statx(AT_FDCWD, NativeMemory.address(p), AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS,
                                sxa) == 0) {
                            totals[0] += sx.getLong(48) * 512;
                        }
                    }
                }
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path file, IOException e) {
                return FileVisitResult.CONTINUE; // vanished or unreadable: not ours to count
            }
        });
        return new SpaceAccount(maxBytes, maxInodes, totals[0], totals[1], blockSizeOf(root), maxFileSizeOf(root));
    }

    /** f_frsize of the filesystem holding dir; 4096 if it cannot be read. */
    private static long blockSizeOf(Path dir) {
        ByteBuffer st = NativeMemory.allocate(128);
        int fd = LibC.open(NativeMemory.address(NativeMemory.cString(dir.toString())),
                O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        if (fd < 0) {
            return 4096;
        }
        try {
            if (LibC.fstatfs(fd, NativeMemory.address(st)) < 0) {
                return 4096;
            }
            long frsize = st.getLong(72);
            return frsize > 0 && Long.bitCount(frsize) == 1 ? frsize : 4096;
        } finally {
            LibC.close(fd);
        }
    }

    /**
     * The largest size ftruncate accepts on an unnamed temporary file in dir, found by bisection (some 60
     * truncates of an empty file, which allocate nothing): writes and allocations past it answer EFBIG, as the
     * backing filesystem would, even where the volume is also full. Long.MAX_VALUE if dir takes no O_TMPFILE.
     */
    static long maxFileSizeOf(Path dir) {
        int fd = LibC.open(NativeMemory.address(NativeMemory.cString(dir.toString())), O_TMPFILE | O_RDWR | O_CLOEXEC,
                0600);
        if (fd < 0) {
            return Long.MAX_VALUE;
        }
        try {
            if (LibC.ftruncate(fd, Long.MAX_VALUE) == 0) {
                return Long.MAX_VALUE;
            }
            long ok = 0;
            long bad = Long.MAX_VALUE;
            while (bad - ok > 1) {
                long mid = ok + (bad - ok) / 2;
                if (LibC.ftruncate(fd, mid) == 0) {
                    ok = mid;
                } else if (LibC.errno() == Errno.EFBIG || LibC.errno() == Errno.EINVAL) {
                    bad = mid;
                } else {
                    return Long.MAX_VALUE;
                }
            }
            return ok;
        } finally {
            LibC.close(fd);
        }
    }

    /**
     * The most an operation on [offset, end) of a file of size size0 holding allocated bytes (stx_blocks × 512)
     * can allocate: the range rounded out to whole blocks, but no more than the file's holes below its new size.
     * A file with no holes thus allocates only past its old end, and an overwrite inside it nothing.
     */
    long mayAllocate(long offset, long end, long size0, long allocated) {
        if (end <= offset) {
            return 0;
        }
        long range = roundUp(end) - (offset & -blockSize);
        long holes = roundUp(Math.max(size0, end)) - allocated;
        return Math.max(0, Math.min(range, holes));
    }

    private long roundUp(long n) {
        long r = (n + blockSize - 1) & -blockSize;
        return r < n ? Long.MAX_VALUE & -blockSize : r;
    }

    /** The lock of the file with this node id, for measure-operate-measure sequences. */
    ReentrantLock lockFor(long nodeId) {
        return locks[(int) (nodeId ^ (nodeId >>> 32)) & (STRIPES - 1)];
    }

    /** Reserves growth bytes; false (and nothing reserved) if that would pass the limit. */
    boolean chargeBytes(long growth) {
        if (growth <= 0) {
            return true;
        }
        if (maxBytes <= 0) {
            usedBytes.addAndGet(growth);
            return true;
        }
        while (true) {
            long used = usedBytes.get();
            if (used + growth > maxBytes) {
                return false;
            }
            if (usedBytes.compareAndSet(used, used + growth)) {
                return true;
            }
        }
    }

    /**
     * Replaces a reservation by what the operation really changed (allocated bytes after minus before; negative
     * if it freed some). The difference is applied whatever the limit: the blocks exist.
     */
    void settle(long reserved, long changed) {
        long d = changed - reserved;
        if (d > 0) {
            usedBytes.addAndGet(d);
        } else if (d < 0) {
            releaseBytes(-d);
        }
    }

    void releaseBytes(long n) {
        if (n > 0) {
            usedBytes.updateAndGet(u -> Math.max(0, u - n));
        }
    }

    boolean chargeInode() {
        if (maxInodes <= 0) {
            usedInodes.incrementAndGet();
            return true;
        }
        while (true) {
            long used = usedInodes.get();
            if (used + 1 > maxInodes) {
                return false;
            }
            if (usedInodes.compareAndSet(used, used + 1)) {
                return true;
            }
        }
    }

    void releaseInode() {
        usedInodes.updateAndGet(u -> Math.max(0, u - 1));
    }

    /** New limits for a live volume (online expansion); usage already counted stays. */
    void setLimits(long bytes, long inodes) {
        this.maxBytes = bytes;
        this.maxInodes = inodes;
    }

    long maxBytes() { return maxBytes; }
    long maxInodes() { return maxInodes; }
    long usedBytes() { return usedBytes.get(); }
    long usedInodes() { return usedInodes.get(); }
    long blockSize() { return blockSize; }
    long maxFileSize() { return maxFileSize; }
}
