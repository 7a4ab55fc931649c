package io.efuse.csi.volume;

/**
 * A point-in-time copy of a volume's data, kept on the node (or shared directory) that holds the volume.
 * {@code groupSnapshotId} names the {@link GroupSnapshot} it belongs to, empty for a snapshot of its own.
 */
public record Snapshot(String id, String name, String sourceVolumeId, long sizeBytes, Backend backend, String node,
                       long createdAtMillis, boolean readyToUse, String message, String groupSnapshotId) {
    public Snapshot {
        groupSnapshotId = groupSnapshotId == null ? "" : groupSnapshotId; // records from before groups had none
    }

    public Snapshot(String id, String name, String sourceVolumeId, long sizeBytes, Backend backend, String node,
                    long createdAtMillis, boolean readyToUse, String message) {
        this(id, name, sourceVolumeId, sizeBytes, backend, node, createdAtMillis, readyToUse, message, "");
    }

    public Snapshot withReady(boolean ready, String newMessage) {
        return new Snapshot(id, name, sourceVolumeId, sizeBytes, backend, node, createdAtMillis, ready, newMessage,
                groupSnapshotId);
    }

    public Snapshot withSize(long bytes) {
        return new Snapshot(id, name, sourceVolumeId, bytes, backend, node, createdAtMillis, readyToUse, message,
                groupSnapshotId);
    }

    public boolean inGroup() {
        return !groupSnapshotId.isEmpty();
    }
}
