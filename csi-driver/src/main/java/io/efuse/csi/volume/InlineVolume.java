package io.efuse.csi.volume;

import java.util.Map;

/**
 * A CSI ephemeral inline volume as its node keeps it: made by NodePublishVolume from the pod's volumeAttributes and
 * deleted, data and all, by NodeUnpublishVolume. {@code handle} is the volume_id the CO chose, {@code id} the
 * driver's ({@link VolumeIds#inlineId}); {@code targetPath} is the one pod directory it is published at.
 * {@code parameters} are the validated StorageClass-like attributes (tier, writebackCache, inodes), without size.
 */
public record InlineVolume(String id, String handle, long capacityBytes, long inodeLimit,
                           Map<String, String> parameters, String targetPath, String podNamespace, String podName,
                           String podUid, long createdAtMillis) {

    public InlineVolume {
        parameters = Map.copyOf(parameters == null ? Map.of() : parameters);
    }

    public Limits limits() {
        return new Limits(capacityBytes, inodeLimit);
    }

    /** Whether a repeated publish asks for this same volume (kubelet's retries do; another pod cannot). */
    public boolean sameVolume(long bytes, long inodes, Map<String, String> params) {
        return capacityBytes == bytes && inodeLimit == inodes && parameters.equals(params);
    }

    /** The volume as the node service handles every volume it serves: local, on this node, ready. */
    public Volume asVolume(String node) {
        return new Volume(id, handle, capacityBytes, inodeLimit, Backend.LOCAL, node, null, parameters, Map.of(),
                Volume.State.READY, "", createdAtMillis);
    }
}
