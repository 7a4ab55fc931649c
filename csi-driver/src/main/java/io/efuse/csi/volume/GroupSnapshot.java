package io.efuse.csi.volume;

import java.util.List;

/**
 * Snapshots of several volumes taken at one instant ({@link GroupCut}). {@code sourceVolumeIds} is sorted and
 * {@code snapshotIds} follows its order; each member is an ordinary {@link Snapshot} that names this group and can
 * only be deleted with it. A group not {@code readyToUse} is one whose taking a restart interrupted; it is rolled
 * back whole, since members taken at another instant would not belong together.
 */
public record GroupSnapshot(String id, String name, List<String> sourceVolumeIds, List<String> snapshotIds,
                            Backend backend, String node, long createdAtMillis, boolean readyToUse) {
    public GroupSnapshot {
        sourceVolumeIds = List.copyOf(sourceVolumeIds);
        snapshotIds = List.copyOf(snapshotIds);
    }

    public GroupSnapshot ready() {
        return new GroupSnapshot(id, name, sourceVolumeIds, snapshotIds, backend, node, createdAtMillis, true);
    }
}
