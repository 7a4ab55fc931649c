package io.efuse.csi.csi;

import csi.v1.Csi.ControllerServiceCapability;
import csi.v1.Csi.GroupControllerServiceCapability;
import csi.v1.Csi.NodeServiceCapability;
import csi.v1.Csi.PluginCapability;
import csi.v1.Csi.VolumeCapability.AccessMode;
import io.efuse.csi.volume.Backend;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/** Everything this driver advertises, in one place: what the services answer and what they accept agree. */
public final class Capabilities {
    /** The topology key of a node-local volume: the node that holds its data. */
    public static final String TOPOLOGY_NODE_KEY = "topology.efuse.csi.io/node";

    private Capabilities() {}

    static List<PluginCapability> plugin(boolean controller, boolean groupController) {
        var caps = new java.util.ArrayList<PluginCapability>();
        if (controller) {
            caps.add(service(PluginCapability.Service.Type.CONTROLLER_SERVICE));
        }
        if (groupController) {
            caps.add(service(PluginCapability.Service.Type.GROUP_CONTROLLER_SERVICE));
        }
        caps.add(service(PluginCapability.Service.Type.VOLUME_ACCESSIBILITY_CONSTRAINTS));
        caps.add(PluginCapability.newBuilder().setVolumeExpansion(PluginCapability.VolumeExpansion.newBuilder()
                .setType(PluginCapability.VolumeExpansion.Type.ONLINE)).build());
        return caps;
    }

    static final Set<ControllerServiceCapability.RPC.Type> CONTROLLER = EnumSet.of(
            ControllerServiceCapability.RPC.Type.CREATE_DELETE_VOLUME,
            ControllerServiceCapability.RPC.Type.LIST_VOLUMES,
            ControllerServiceCapability.RPC.Type.GET_CAPACITY,
            ControllerServiceCapability.RPC.Type.CREATE_DELETE_SNAPSHOT,
            ControllerServiceCapability.RPC.Type.LIST_SNAPSHOTS,
            ControllerServiceCapability.RPC.Type.GET_SNAPSHOT,
            ControllerServiceCapability.RPC.Type.CLONE_VOLUME,
            ControllerServiceCapability.RPC.Type.EXPAND_VOLUME,
            ControllerServiceCapability.RPC.Type.VOLUME_CONDITION,
            ControllerServiceCapability.RPC.Type.GET_VOLUME,
            ControllerServiceCapability.RPC.Type.SINGLE_NODE_MULTI_WRITER,
            ControllerServiceCapability.RPC.Type.MODIFY_VOLUME);

    static final Set<GroupControllerServiceCapability.RPC.Type> GROUP_CONTROLLER = EnumSet.of(
            GroupControllerServiceCapability.RPC.Type.CREATE_DELETE_GET_VOLUME_GROUP_SNAPSHOT);

    static final Set<NodeServiceCapability.RPC.Type> NODE = EnumSet.of(
            NodeServiceCapability.RPC.Type.STAGE_UNSTAGE_VOLUME,
            NodeServiceCapability.RPC.Type.GET_VOLUME_STATS,
            NodeServiceCapability.RPC.Type.EXPAND_VOLUME,
            NodeServiceCapability.RPC.Type.VOLUME_CONDITION,
            NodeServiceCapability.RPC.Type.SINGLE_NODE_MULTI_WRITER,
            NodeServiceCapability.RPC.Type.VOLUME_MOUNT_GROUP);

    private static final Set<AccessMode.Mode> SINGLE_NODE = EnumSet.of(
            AccessMode.Mode.SINGLE_NODE_WRITER, AccessMode.Mode.SINGLE_NODE_READER_ONLY,
            AccessMode.Mode.SINGLE_NODE_SINGLE_WRITER, AccessMode.Mode.SINGLE_NODE_MULTI_WRITER);

    private static final Set<AccessMode.Mode> MULTI_NODE = EnumSet.of(
            AccessMode.Mode.MULTI_NODE_READER_ONLY, AccessMode.Mode.MULTI_NODE_SINGLE_WRITER,
            AccessMode.Mode.MULTI_NODE_MULTI_WRITER);

    /** Local volumes live on one node; shared ones may be used from many at once. */
    static boolean supports(Backend backend, AccessMode.Mode mode) {
        return SINGLE_NODE.contains(mode) || (backend == Backend.SHARED && MULTI_NODE.contains(mode));
    }

    static boolean readOnly(AccessMode.Mode mode) {
        return mode == AccessMode.Mode.SINGLE_NODE_READER_ONLY || mode == AccessMode.Mode.MULTI_NODE_READER_ONLY;
    }

    static boolean multiNode(AccessMode.Mode mode) {
        return MULTI_NODE.contains(mode);
    }

    /** File system types a mount capability may name: eFuse serves its own, so only "" and its names fit. */
    static boolean supportsFsType(String fsType) {
        return fsType.isEmpty() || fsType.equals("efuse") || fsType.equals("fuse.efuse");
    }

    private static PluginCapability service(PluginCapability.Service.Type type) {
        return PluginCapability.newBuilder().setService(PluginCapability.Service.newBuilder().setType(type)).build();
    }
}
