package io.efuse.csi.volume;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The places under one backing root that every engine shares:
 * <pre>
 *   ROOT/volumes/ID     what the FUSE daemon serves for a volume: a directory, a btrfs subvolume, or the mount
 *                       point of the volume's image; ID is a provisioned volume's (v-…) or an inline volume's (i-…)
 *   ROOT/snapshots/ID   a snapshot: a directory, a read-only subvolume, or ID.img, an image
 *   ROOT/images/ID.img  a volume's image (the image engine)
 *   ROOT/.work/…        what is being built or torn down, never visible under the names above
 * </pre>
 * Whatever is made appears under its final name only when complete (built aside, then renamed), and disappears at
 * once when deleted (renamed aside, then removed), so a crash leaves nothing half-made in place. Only ids that
 * {@link VolumeIds} accepts become paths.
 */
final class RootLayout {
    final Path root;
    final Path volumes;
    final Path snapshots;
    final Path images;
    final Path work;
    private final AtomicLong workSeq = new AtomicLong();

    RootLayout(Path root) throws IOException {
        this.root = root.toAbsolutePath().normalize();
        this.volumes = this.root.resolve("volumes");
        this.snapshots = this.root.resolve("snapshots");
        this.images = this.root.resolve("images");
        this.work = this.root.resolve(".work");
        Files.createDirectories(volumes);
        Files.createDirectories(snapshots);
        Files.createDirectories(images);
        Files.createDirectories(work);
    }

    Path volumeDir(String id) {
        if (!VolumeIds.isVolumeId(id) && !VolumeIds.isInlineId(id)) {
            throw new IllegalArgumentException("not a volume id: " + id);
        }
        return volumes.resolve(id);
    }

    Path snapshotDir(String id) {
        if (!VolumeIds.isSnapshotId(id)) {
            throw new IllegalArgumentException("not a snapshot id: " + id);
        }
        return snapshots.resolve(id);
    }

    Path volumeImage(String id) {
        return images.resolve(volumeDir(id).getFileName() + ".img");
    }

    Path snapshotImage(String id) {
        return snapshots.resolve(snapshotDir(id).getFileName() + ".img");
    }

    /** A fresh name under the work directory; nothing is made there. */
    Path workPath(String what) {
        return work.resolve(what + "-" + ProcessHandle.current().pid() + "-" + workSeq.incrementAndGet());
    }

    static void moveIntoPlace(Path tmp, Path target) throws IOException {
        try {
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("rename " + tmp + " -> " + target + ": the work directory is on another filesystem",
                    e);
        }
    }

    /** Renames {@code path} aside into the work directory; null when it is not there (already deleted). */
    Path moveAside(Path path) throws IOException {
        if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            return null;
        }
        Path aside = workPath("delete-" + path.getFileName());
        try {
            Files.move(path, aside, StandardCopyOption.ATOMIC_MOVE);
        } catch (NoSuchFileException e) {
            return null; // deleted concurrently: the result is the same
        }
        return aside;
    }

    static void removeTree(Path top) throws IOException {
        if (!Files.exists(top, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        Files.walkFileTree(top, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
                // a volume may hold directories its owner made read-only; removal needs write access
                dir.toFile().setWritable(true, true);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.deleteIfExists(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException exc) throws IOException {
                if (exc != null) {
                    throw exc;
                }
                try {
                    Files.deleteIfExists(dir);
                } catch (DirectoryNotEmptyException e) {
                    throw new IOException("remove " + dir + ": a file appeared while deleting", e);
                }
                return FileVisitResult.CONTINUE;
            }
        });
    }

    /** Bytes (apparent size) and inodes in a tree. */
    static long[] walkTotals(Path dir) throws IOException {
        long[] totals = new long[2];
        Files.walkFileTree(dir, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path d, BasicFileAttributes attrs) {
                totals[1]++;
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
                totals[1]++;
                if (attrs.isRegularFile()) {
                    totals[0] += attrs.size();
                }
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path file, IOException exc) {
                return FileVisitResult.CONTINUE; // removed while walking
            }
        });
        return totals;
    }
}
