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
}
