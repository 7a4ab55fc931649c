package io.efuse.csi.volume;

/** A point-in-time copy of a volume's data, kept on the node (or shared directory) that holds the volume. */
public record Snapshot(String id, String name, String sourceVolumeId, long sizeBytes, Backend backend, String node,
                       long createdAtMillis, boolean readyToUse, String message) {

    public Snapshot withReady(boolean ready, String newMessage) {
        return new Snapshot(id, name, sourceVolumeId, sizeBytes, backend, node, createdAtMillis, ready, newMessage);
    }
}
