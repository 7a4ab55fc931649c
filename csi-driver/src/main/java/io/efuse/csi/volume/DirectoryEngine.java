package io.efuse.csi.volume;

import io.efuse.csi.sys.ErrnoException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A plain directory per volume. Where the root's filesystem enforces project quotas, each volume directory gets
 * its own project and the kernel holds it to its size ({@link EngineKind#PROJECT_QUOTA}); elsewhere the FUSE
 * daemon counts and enforces it ({@link EngineKind#DAEMON}). Snapshots and clones are tree copies, reflinked
 * where the filesystem shares extents.
 */
final class DirectoryEngine implements StorageEngine {
    private static final Logger LOG = LoggerFactory.getLogger(DirectoryEngine.class);

    private final RootLayout layout;
    private final Optional<ProjectQuota> quota;
    private final TreeCopy treeCopy;

    DirectoryEngine(RootLayout layout, Optional<ProjectQuota> quota, TreeCopy treeCopy) {
        this.layout = layout;
        this.quota = quota;
        this.treeCopy = treeCopy;
    }

    @Override
    public EngineKind kind() {
        return quota.isPresent() ? EngineKind.PROJECT_QUOTA : EngineKind.DAEMON;
    }

    @Override
    public boolean holdsVolume(String id) {
        return Files.isDirectory(layout.volumeDir(id), LinkOption.NOFOLLOW_LINKS);
    }

    @Override
    public boolean holdsSnapshot(String id) {
        return Files.isDirectory(layout.snapshotDir(id), LinkOption.NOFOLLOW_LINKS);
    }

    @Override
    public void createVolume(String id, Limits limits, SourceData source) throws IOException {
        Path dir = layout.volumeDir(id);
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            Path tmp = layout.workPath("create-" + id);
            try {
                Files.createDirectory(tmp);
                applyQuota(id, tmp, limits); // before the copy, so the copied files are charged to the volume
                if (source != null) {
                    TreeCopy.Result r = treeCopy.copy(source.directory(), tmp);
                    LOG.debug("filled {} from {} {}: {}", id, source.kind(), source.id(), r);
                }
                RootLayout.moveIntoPlace(tmp, dir);
            } catch (IOException | RuntimeException e) {
                RootLayout.removeTree(tmp);
                throw e;
            }
        }
        applyQuota(id, dir, limits);
    }

    @Override
    public void resizeVolume(String id, Limits limits) throws IOException {
        Path dir = layout.volumeDir(id);
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            throw new NoSuchFileException(dir.toString(), null, "resize: volume directory is missing");
        }
        applyQuota(id, dir, limits);
    }

    @Override
    public void deleteVolume(String id) throws IOException {
        Path aside = layout.moveAside(layout.volumeDir(id));
        if (aside != null) {
            RootLayout.removeTree(aside);
        }
        if (quota.isPresent()) {
            try {
                quota.get().release(VolumeIds.projectId(id));
            } catch (ErrnoException e) {
                LOG.warn("releasing the quota of {}: {}", id, e.getMessage());
            }
        }
    }

    @Override
    public long createSnapshot(String snapshotId, String volumeId) throws IOException {
        Path dir = layout.snapshotDir(snapshotId);
        if (Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            return RootLayout.walkTotals(dir)[0];
        }
        Path src = layout.volumeDir(volumeId);
        if (!Files.isDirectory(src, LinkOption.NOFOLLOW_LINKS)) {
            throw new NoSuchFileException(src.toString(), null, "snapshot: source volume has no data");
        }
        Path tmp = layout.workPath("snapshot-" + snapshotId);
        try {
            Files.createDirectory(tmp);
            TreeCopy.Result r = treeCopy.copy(src, tmp);
            RootLayout.moveIntoPlace(tmp, dir);
            return r.bytes();
        } catch (IOException | RuntimeException e) {
            RootLayout.removeTree(tmp);
            throw e;
        }
    }

    @Override
    public void deleteSnapshot(String id) throws IOException {
        Path aside = layout.moveAside(layout.snapshotDir(id));
        if (aside != null) {
            RootLayout.removeTree(aside);
        }
    }

    /** Usage from the kernel's project accounting when there is one, else by walking the tree. */
    @Override
    public Usage usage(String id, Limits limits) throws IOException {
        if (quota.isPresent()) {
            return quota.get().usage(VolumeIds.projectId(id), limits);
        }
        long[] totals = RootLayout.walkTotals(layout.volumeDir(id));
        return new Usage(totals[0], limits.bytes(), totals[1], limits.inodes());
    }

    @Override
    public Path serve(String id) throws IOException {
        Path dir = layout.volumeDir(id);
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            throw new NoSuchFileException(dir.toString(), null, "volume directory is missing");
        }
        return dir;
    }

    /** A project quota shows in statfs of its directory (ext4 and XFS both report the project's limits there). */
    @Override
    public ServedLimits served(String id, Limits limits) {
        return quota.isPresent() ? ServedLimits.BY_KERNEL : ServedLimits.byDaemon(limits);
    }

    @Override
    public long availableBytes() throws IOException {
        return Files.getFileStore(layout.root).getUsableSpace();
    }

    @Override
    public SourceData source(ContentSource.Kind kind, String id) {
        Path dir = kind == ContentSource.Kind.SNAPSHOT ? layout.snapshotDir(id) : layout.volumeDir(id);
        return new DirectorySource(kind, id, kind(), dir);
    }

    @Override
    public boolean plainDirectories() {
        return true;
    }

    private void applyQuota(String id, Path dir, Limits limits) throws IOException {
        if (quota.isPresent()) {
            quota.get().apply(dir, VolumeIds.projectId(id), limits);
        }
    }
}
