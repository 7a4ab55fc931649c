package io.efuse.csi.kube;

import io.fabric8.generator.annotation.Required;

/** What the controller asks for. */
public class EfuseSnapshotSpec {
    @Required
    public String name;
    @Required
    public String sourceVolumeId;
    @Required
    public String backend;
    public String nodeName;
    /** The source volume's size when the snapshot was taken: the smallest volume it can restore into. */
    public long sizeBytes;
    /**
     * The group snapshot this is a member of (empty: none). The members of a group are taken together, at one
     * instant, once all of them exist: {@code groupSourceVolumeIds} (sorted) says how many there are.
     */
    public String groupSnapshotId;
    /** The CO's name of the group, for its idempotent create. */
    public String groupName;
    public java.util.List<String> groupSourceVolumeIds;
}
