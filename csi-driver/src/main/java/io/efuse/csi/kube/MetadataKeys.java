package io.efuse.csi.kube;

import io.efuse.csi.volume.VolumeIds;

/** The label, annotation and finalizer names the controller and the reconcilers put on resources. */
public final class MetadataKeys {
    public static final String GROUP = "efuse.csi.io";
    /** Which reconciler owns a resource: a node's name, or {@value #SHARED} for the shared backend. */
    public static final String NODE = GROUP + "/node";
    public static final String SHARED = "shared";
    /** The group snapshot an EfuseSnapshot is a member of (its id). */
    public static final String GROUP_SNAPSHOT = GROUP + "/group-snapshot";
    public static final String DATA_FINALIZER = GROUP + "/data";
    /** Bytes free for new volumes on a node, kept up to date by its reconciler (on the Node object). */
    public static final String AVAILABLE_BYTES = GROUP + "/available-bytes";

    private MetadataKeys() {}

    /** A label value for a node name: node names may be longer than the 63 characters a label value allows. */
    public static String nodeLabel(String node) {
        if (node == null || node.isEmpty()) {
            return SHARED;
        }
        if (node.length() <= 63) {
            return node;
        }
        return "n-" + VolumeIds.volumeId(node).substring(2);
    }
}
