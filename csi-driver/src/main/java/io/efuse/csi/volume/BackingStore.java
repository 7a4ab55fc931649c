package io.efuse.csi.volume;

import io.efuse.csi.sys.FileCloneSyscalls;
import io.efuse.csi.sys.ProjectQuotaSyscalls;
import io.efuse.csi.sys.ErrnoException;
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
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The data of volumes and snapshots under one backing root:
 * <pre>
 *   ROOT/volumes/ID     a volume's files (the FUSE daemon serves this directory); ID is a provisioned
 *                       volume's (v-…) or an inline volume's (i-…)
 *   ROOT/snapshots/ID   a snapshot's files
 *   ROOT/.work/…        directories being built or torn down, never visible under the two names above
 * </pre>
 * A directory appears under its final name only when complete (built aside, then renamed), and disappears at once
 * when deleted (renamed aside, then removed), so a crash leaves nothing half-made in place. Only ids that
 * {@link VolumeIds} accepts become paths.
 */
public final class BackingStore {
    private static final Logger LOG = LoggerFactory.getLogger(BackingStore.class);

    private final Path root;
    private final Path volumes;
    private final Path snapshots;
    private final Path work;
    private final Optional<ProjectQuota> quota;
    private final TreeCopy treeCopy;
    private final AtomicLong workSeq = new AtomicLong();

    public BackingStore(Path root, Optional<ProjectQuota> quota, TreeCopy treeCopy) throws IOException {
        this.root = root.toAbsolutePath().normalize();
        this.volumes = this.root.resolve("volumes");
        this.snapshots = this.root.resolve("snapshots");
        this.work = this.root.resolve(".work");
        this.quota = quota;
        this.treeCopy = treeCopy;
        Files.createDirectories(volumes);
        Files.createDirectories(snapshots);
        Files.createDirectories(work);
        clearWork();
    }

    /** A backing store on {@code root} with kernel project quotas when its filesystem enforces them. */
    public static BackingStore open(Path root) throws IOException {
        Files.createDirectories(root);
        return new BackingStore(root, ProjectQuota.probe(new ProjectQuotaSyscalls(), root),
                new TreeCopy(new FileCloneSyscalls()));
    }

    public Path root() {
        return root;
    }

    public boolean kernelQuota() {
        return quota.isPresent();
    }

    public Path volumeDir(String id) {
        if (!VolumeIds.isVolumeId(id) && !VolumeIds.isInlineId(id)) {
            throw new IllegalArgumentException("not a volume id: " + id);
        }
        return volumes.resolve(id);
    }

    public Path snapshotDir(String id) {
        if (!VolumeIds.isSnapshotId(id)) {
            throw new IllegalArgumentException("not a snapshot id: " + id);
        }
        return snapshots.resolve(id);
    }

    /** The ids of the provisioned volumes' directories present (inline volumes' are {@link #inlineIds}). */
    public java.util.List<String> volumeIds() throws IOException {
        return ids(VolumeIds::isVolumeId);
    }

    /** The ids of the inline volumes' directories present: their records are the node's, not a store's. */
    public java.util.List<String> inlineIds() throws IOException {
        return ids(VolumeIds::isInlineId);
    }

    private java.util.List<String> ids(java.util.function.Predicate<String> kind) throws IOException {
        try (var entries = Files.list(volumes)) {
            return entries.map(p -> p.getFileName().toString()).filter(kind).sorted().toList();
        }
    }

    public boolean volumeExists(String id) {
        return Files.isDirectory(volumeDir(id), LinkOption.NOFOLLOW_LINKS);
    }

    /**
     * Makes a volume's directory, filled from {@code source} when given, with its quota. Idempotent: an existing
     * directory only gets its quota (re)applied. {@code sourceDir} is the directory of the source volume or
     * snapshot, resolved by the caller from a validated id.
     */
    public void createVolume(String id, Limits limits, Path sourceDir) throws IOException {
        Path dir = volumeDir(id);
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            Path tmp = workDir("create-" + id);
            try {
                if (sourceDir != null) {
                    if (!Files.isDirectory(sourceDir, LinkOption.NOFOLLOW_LINKS)) {
                        throw new NoSuchFileException(sourceDir.toString(), null, "content source has no data");
                    }
                    Files.createDirectory(tmp);
                    applyQuota(id, tmp, limits); // before the copy, so the copied files are charged to the volume
                    TreeCopy.Result r = treeCopy.copy(sourceDir, tmp);
                    LOG.debug("filled " + id + " from " + sourceDir + ": " + r);
                } else {
                    Files.createDirectory(tmp);
                    applyQuota(id, tmp, limits);
                }
                moveIntoPlace(tmp, dir);
            } catch (IOException | RuntimeException e) {
                removeTree(tmp);
                throw e;
            }
        }
        applyQuota(id, dir, limits);
    }

    public void resizeVolume(String id, Limits limits) throws IOException {
        Path dir = volumeDir(id);
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            throw new NoSuchFileException(dir.toString(), null, "resize: volume directory is missing");
        }
        applyQuota(id, dir, limits);
    }

    public void deleteVolume(String id) throws IOException {
        removeAside(volumeDir(id));
        if (quota.isPresent()) {
            try {
                quota.get().release(VolumeIds.projectId(id));
            } catch (ErrnoException e) {
                LOG.warn("releasing the quota of " + id + ": " + e.getMessage());
            }
        }
    }

    /** Copies a volume's current data into a snapshot directory; idempotent. Returns the bytes copied. */
    public long createSnapshot(String snapshotId, String volumeId) throws IOException {
        Path dir = snapshotDir(snapshotId);
        if (Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            return treeSize(dir);
        }
        Path src = volumeDir(volumeId);
        if (!Files.isDirectory(src, LinkOption.NOFOLLOW_LINKS)) {
            throw new NoSuchFileException(src.toString(), null, "snapshot: source volume has no data");
        }
        Path tmp = workDir("snapshot-" + snapshotId);
        try {
            Files.createDirectory(tmp);
            TreeCopy.Result r = treeCopy.copy(src, tmp);
            moveIntoPlace(tmp, dir);
            return r.bytes();
        } catch (IOException | RuntimeException e) {
            removeTree(tmp);
            throw e;
        }
    }

    public void deleteSnapshot(String id) throws IOException {
        removeAside(snapshotDir(id));
    }

    /** Usage from the kernel's project accounting when there is one, else by walking the tree. */
    public Usage usage(String id, Limits limits) throws IOException {
        if (quota.isPresent()) {
            return quota.get().usage(VolumeIds.projectId(id), limits);
        }
        long[] totals = walkTotals(volumeDir(id));
        return new Usage(totals[0], limits.bytes(), totals[1], limits.inodes());
    }

    public long availableBytes() throws IOException {
        return Files.getFileStore(root).getUsableSpace();
    }

    public long totalBytes() throws IOException {
        return Files.getFileStore(root).getTotalSpace();
    }

    private void applyQuota(String id, Path dir, Limits limits) throws IOException {
        if (quota.isPresent()) {
            quota.get().apply(dir, VolumeIds.projectId(id), limits);
        }
    }

    private Path workDir(String what) {
        return work.resolve(what + "-" + ProcessHandle.current().pid() + "-" + workSeq.incrementAndGet());
    }

    private static void moveIntoPlace(Path tmp, Path dir) throws IOException {
        try {
            Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("rename " + tmp + " -> " + dir + ": the work directory is on another filesystem", e);
        }
    }

    private void removeAside(Path dir) throws IOException {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        Path aside = workDir("delete-" + dir.getFileName());
        try {
            Files.move(dir, aside, StandardCopyOption.ATOMIC_MOVE);
        } catch (NoSuchFileException e) {
            return; // deleted concurrently: the result is the same
        }
        removeTree(aside);
    }

    /** Leftovers of builds and deletions that a crash interrupted. */
    private void clearWork() throws IOException {
        try (var entries = Files.list(work)) {
            for (Path p : entries.toList()) {
                removeTree(p);
            }
        }
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

    private static long treeSize(Path dir) throws IOException {
        return walkTotals(dir)[0];
    }

    /** Bytes (apparent size) and inodes in a tree. */
    private static long[] walkTotals(Path dir) throws IOException {
        long[] totals = new long[2];
        Files.walkFileTree(dir, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult preVisitDirectory(Path d, BasicFileAttributes attrs) {
                    totals[1]++;
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
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
