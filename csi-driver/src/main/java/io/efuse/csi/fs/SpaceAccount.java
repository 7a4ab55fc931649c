package io.efuse.csi.fs;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The daemon's own size limit of a volume, for backing filesystems without project quotas: bytes are
 * the apparent sizes of files (what `ls -l` adds up, so a sparse file counts in full), inodes are the
 * files, directories and links in the tree. Growth is charged before it happens and refused with
 * EDQUOT past the limit; shrinking gives it back. Counts are approximate under concurrent growth of the
 * same file, never by more than the racing writes.
 */
final class SpaceAccount {
    private volatile long maxBytes;
    private volatile long maxInodes;
    private final AtomicLong usedBytes;
    private final AtomicLong usedInodes;

    SpaceAccount(long maxBytes, long maxInodes, long usedBytes, long usedInodes) {
        this.maxBytes = maxBytes;
        this.maxInodes = maxInodes;
        this.usedBytes = new AtomicLong(usedBytes);
        this.usedInodes = new AtomicLong(usedInodes);
    }

    /** Measures what a backing tree already holds (hard links counted once). */
    static SpaceAccount measure(Path root, long maxBytes, long maxInodes) throws IOException {
        long[] totals = new long[2];
        Set<Object> seen = new HashSet<>();
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
                        totals[0] += attrs.size();
                    }
                }
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path file, IOException e) {
                return FileVisitResult.CONTINUE; // vanished or unreadable: not ours to count
            }
        });
        return new SpaceAccount(maxBytes, maxInodes, totals[0], totals[1]);
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
}
