package io.efuse.csi.volume;

import io.efuse.csi.sys.BtrfsSyscalls;
import io.efuse.csi.sys.ErrnoException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A btrfs subvolume per volume, held to its size by the quota group btrfs keeps for every subvolume: simple quotas
 * where the kernel has them (6.7+: cheap, owner-charged), full qgroups otherwise. The limit is on referenced bytes,
 * so a write past it fails with EDQUOT in the kernel whatever path it takes, passthrough included. Snapshots are
 * read-only subvolume snapshots and clones writable ones, both O(1) and copy-on-write. btrfs allocates inodes as it
 * goes, so a volume has no inode limit. A volume's files are overwritten in place (no copy on write, as chattr +C),
 * as a block device's would be: random overwrites under copy on write are several times slower, and the extents they
 * leave partly referenced count against the quota, so a volume could run out with less data than its size.
 */
final class BtrfsEngine implements StorageEngine {
    private static final Logger LOG = LoggerFactory.getLogger(BtrfsEngine.class);

    private final RootLayout layout;
    private final BtrfsSyscalls btrfs;
    private final TreeCopy treeCopy;
    private final String fsid;
    private final BtrfsSyscalls.QuotaMode mode;

    private BtrfsEngine(RootLayout layout, BtrfsSyscalls btrfs, TreeCopy treeCopy, String fsid,
                        BtrfsSyscalls.QuotaMode mode) {
        this.layout = layout;
        this.btrfs = btrfs;
        this.treeCopy = treeCopy;
        this.fsid = fsid;
        this.mode = mode;
    }

    /**
     * The btrfs engine of a root on btrfs, with quotas turned on where they are off (simple quotas first); empty,
     * with the reason in {@code why}, where the root is not btrfs or quotas cannot be had.
     */
    static Optional<BtrfsEngine> probe(RootLayout layout, BtrfsSyscalls btrfs, TreeCopy treeCopy,
                                       StringBuilder why) {
        try {
            if (!BtrfsSyscalls.isBtrfs(layout.root)) {
                why.append("the root is not on btrfs (give the node a btrfs filesystem, or --btrfs-pool-image)");
                return Optional.empty();
            }
            BtrfsSyscalls.QuotaMode mode = btrfs.quotaMode(layout.root);
            if (mode == BtrfsSyscalls.QuotaMode.DISABLED) {
                try {
                    btrfs.enableQuota(layout.root, true);
                } catch (BtrfsSyscalls.SimpleQuotaUnsupportedException e) {
                    btrfs.enableQuota(layout.root, false);
                }
                mode = btrfs.quotaMode(layout.root);
                LOG.info("btrfs at {}: quotas turned on ({})", layout.root, mode);
            }
            if (mode == BtrfsSyscalls.QuotaMode.DISABLED) {
                why.append("btrfs quotas stay off on this filesystem");
                return Optional.empty();
            }
            return Optional.of(new BtrfsEngine(layout, btrfs, treeCopy, btrfs.fsid(layout.root), mode));
        } catch (ErrnoException e) {
            why.append("btrfs quotas cannot be used here: ").append(e.getMessage());
            return Optional.empty();
        }
    }

    @Override
    public EngineKind kind() {
        return EngineKind.BTRFS;
    }

    BtrfsSyscalls.QuotaMode quotaMode() {
        return mode;
    }

    @Override
    public boolean holdsVolume(String id) {
        return isSubvolume(layout.volumeDir(id));
    }

    @Override
    public boolean holdsSnapshot(String id) {
        return isSubvolume(layout.snapshotDir(id));
    }

    private boolean isSubvolume(Path p) {
        try {
            return Files.isDirectory(p) && btrfs.isSubvolume(p);
        } catch (ErrnoException e) {
            return false;
        }
    }

    @Override
    public void createVolume(String id, Limits limits, SourceData source) throws IOException {
        Path dir = layout.volumeDir(id);
        if (holdsVolume(id)) {
            resizeVolume(id, limits);
            return;
        }
        Path tmp = layout.workPath("create-" + id);
        try {
            if (source != null && source.engine() == EngineKind.BTRFS) {
                btrfs.snapshot(source.directory(), tmp, false);
                limit(tmp, limits);
            } else {
                btrfs.createSubvolume(tmp);
                btrfs.setNoCow(tmp);
                limit(tmp, limits); // before the copy, so the copied files count against the volume
                if (source != null) {
                    TreeCopy.Result r = treeCopy.copy(source.directory(), tmp);
                    LOG.debug("filled {} from {} {}: {}", id, source.kind(), source.id(), r);
                }
            }
            RootLayout.moveIntoPlace(tmp, dir);
        } catch (IOException | RuntimeException e) {
            removeSubvolume(tmp);
            throw e;
        }
    }

    @Override
    public void resizeVolume(String id, Limits limits) throws IOException {
        Path dir = layout.volumeDir(id);
        if (!holdsVolume(id)) {
            throw new NoSuchFileException(dir.toString(), null, "resize: the volume's subvolume is missing");
        }
        limit(dir, limits);
    }

    private void limit(Path subvolume, Limits limits) throws ErrnoException {
        btrfs.limit(layout.root, btrfs.subvolumeId(subvolume), limits.bytes());
    }

    @Override
    public void deleteVolume(String id) throws IOException {
        removeSubvolume(layout.moveAside(layout.volumeDir(id)));
    }

    @Override
    public long createSnapshot(String snapshotId, String volumeId) throws IOException {
        Path dir = layout.snapshotDir(snapshotId);
        if (!holdsSnapshot(snapshotId)) {
            Path src = layout.volumeDir(volumeId);
            if (!holdsVolume(volumeId)) {
                throw new NoSuchFileException(src.toString(), null, "snapshot: the source volume's subvolume is missing");
            }
            // Taken in place: a snapshot appears whole or not at all, and a read-only subvolume cannot be renamed.
            btrfs.snapshot(src, dir, true);
        }
        return btrfs.usage(layout.root, btrfs.subvolumeId(dir)).referencedBytes();
    }

    @Override
    public void deleteSnapshot(String id) throws IOException {
        // In place, as it was taken: a read-only subvolume cannot be renamed aside, and its removal is atomic.
        removeSubvolume(holdsSnapshot(id) ? layout.snapshotDir(id) : null);
    }

    /** Deletes a subvolume (whatever it holds) and then its quota group, which outlives it otherwise. */
    private void removeSubvolume(Path subvolume) throws IOException {
        if (subvolume == null || !isSubvolume(subvolume)) {
            if (subvolume != null) {
                RootLayout.removeTree(subvolume);
            }
            return;
        }
        long qgroup = btrfs.subvolumeId(subvolume);
        btrfs.deleteSubvolume(subvolume);
        try {
            btrfs.destroyQgroup(layout.root, qgroup);
        } catch (BtrfsSyscalls.QgroupBusyException busy) {
            // The cleaner drops a deleted subvolume's extents at the next commit; until then its group is in use.
            btrfs.sync(layout.root);
            try {
                btrfs.destroyQgroup(layout.root, qgroup);
            } catch (BtrfsSyscalls.QgroupBusyException still) {
                LOG.info("btrfs quota group 0/{} is still in use (extents shared with a clone); it stays", qgroup);
            }
        }
    }

    @Override
    public Usage usage(String id, Limits limits) throws IOException {
        BtrfsSyscalls.QgroupUsage u = btrfs.usage(layout.root, btrfs.subvolumeId(layout.volumeDir(id)));
        return new Usage(u.referencedBytes(), limits.bytes(), 0, 0);
    }

    @Override
    public Path serve(String id) throws IOException {
        Path dir = layout.volumeDir(id);
        if (!holdsVolume(id)) {
            throw new NoSuchFileException(dir.toString(), null, "the volume's subvolume is missing");
        }
        return dir;
    }

    /** btrfs's statfs shows the whole filesystem: the daemon shows the volume's size, and its group's usage. */
    @Override
    public ServedLimits served(String id, Limits limits) throws IOException {
        long qgroup = btrfs.subvolumeId(layout.volumeDir(id));
        return new ServedLimits(Limits.NONE, limits.bytes(),
                Path.of("/sys/fs/btrfs", fsid, "qgroups", "0_" + qgroup, "referenced"));
    }

    @Override
    public long availableBytes() throws IOException {
        return Files.getFileStore(layout.root).getUsableSpace();
    }

    @Override
    public SourceData source(ContentSource.Kind kind, String id) {
        Path dir = kind == ContentSource.Kind.SNAPSHOT ? layout.snapshotDir(id) : layout.volumeDir(id);
        return new DirectorySource(kind, id, EngineKind.BTRFS, dir);
    }

    @Override
    public boolean removeLeftover(Path leftover) throws IOException {
        if (!isSubvolume(leftover)) {
            return false;
        }
        removeSubvolume(leftover);
        return true;
    }
}
