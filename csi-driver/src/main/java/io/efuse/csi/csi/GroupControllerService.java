package io.efuse.csi.csi;

import static io.efuse.csi.csi.Calls.requireId;
import static io.efuse.csi.csi.Calls.run;

import com.google.protobuf.Timestamp;
import csi.v1.Csi;
import csi.v1.GroupControllerGrpc;
import io.efuse.csi.volume.GroupSnapshot;
import io.efuse.csi.volume.Snapshot;
import io.efuse.csi.volume.VolumeIds;
import io.efuse.csi.volume.VolumeStore;
import io.grpc.stub.StreamObserver;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * CSI GroupController: snapshots of several volumes taken at one instant (the store's group snapshots; docs/csi.md
 * says how the instant holds for each engine). Validates every request and returns the codes the spec names.
 */
public final class GroupControllerService extends GroupControllerGrpc.GroupControllerImplBase {
    private final VolumeStore store;
    private final OperationLocks locks = new OperationLocks();

    public GroupControllerService(VolumeStore store) {
        this.store = store;
    }

    @Override
    public void groupControllerGetCapabilities(Csi.GroupControllerGetCapabilitiesRequest req,
            StreamObserver<Csi.GroupControllerGetCapabilitiesResponse> out) {
        var resp = Csi.GroupControllerGetCapabilitiesResponse.newBuilder();
        for (var type : Capabilities.GROUP_CONTROLLER) {
            resp.addCapabilities(Csi.GroupControllerServiceCapability.newBuilder()
                    .setRpc(Csi.GroupControllerServiceCapability.RPC.newBuilder().setType(type)));
        }
        out.onNext(resp.build());
        out.onCompleted();
    }

    @Override
    public void createVolumeGroupSnapshot(Csi.CreateVolumeGroupSnapshotRequest req,
            StreamObserver<Csi.CreateVolumeGroupSnapshotResponse> out) {
        run(out, () -> {
            if (req.getName().isEmpty()) {
                throw CsiErrors.invalid("name is required");
            }
            if (req.getSourceVolumeIdsCount() == 0) {
                throw CsiErrors.invalid("source_volume_ids is required: a group snapshot needs at least one volume");
            }
            // csi.storage.k8s.io/ keys are the snapshotter's metadata (--extra-create-metadata), not the class's
            List<String> unknown = req.getParametersMap().keySet().stream()
                    .filter(k -> !k.startsWith("csi.storage.k8s.io/")).sorted().toList();
            if (!unknown.isEmpty()) {
                throw CsiErrors.invalid("unknown group snapshot parameters " + unknown
                        + ": a VolumeGroupSnapshotClass for this driver takes none");
            }
            Set<String> seen = new HashSet<>();
            for (String id : req.getSourceVolumeIdsList()) {
                if (!seen.add(id)) {
                    throw CsiErrors.invalid("source_volume_ids names volume " + id + " twice");
                }
                if (!VolumeIds.isVolumeId(id)) {
                    throw CsiErrors.notFound("volume " + id + " does not exist");
                }
            }
            String id = VolumeIds.groupSnapshotId(req.getName());
            try (var held = locks.acquire(id)) {
                GroupSnapshot g = store.createGroupSnapshot(req.getName(), req.getSourceVolumeIdsList());
                return Csi.CreateVolumeGroupSnapshotResponse.newBuilder().setGroupSnapshot(toCsi(g)).build();
            }
        });
    }

    @Override
    public void getVolumeGroupSnapshot(Csi.GetVolumeGroupSnapshotRequest req,
            StreamObserver<Csi.GetVolumeGroupSnapshotResponse> out) {
        run(out, () -> {
            GroupSnapshot g = existing(requireId(req.getGroupSnapshotId(), "group_snapshot_id"));
            if (g == null) {
                throw CsiErrors.notFound("group snapshot " + req.getGroupSnapshotId() + " does not exist");
            }
            requireMembers(g, req.getSnapshotIdsList());
            return Csi.GetVolumeGroupSnapshotResponse.newBuilder().setGroupSnapshot(toCsi(g)).build();
        });
    }

    @Override
    public void deleteVolumeGroupSnapshot(Csi.DeleteVolumeGroupSnapshotRequest req,
            StreamObserver<Csi.DeleteVolumeGroupSnapshotResponse> out) {
        run(out, () -> {
            String id = requireId(req.getGroupSnapshotId(), "group_snapshot_id");
            GroupSnapshot g = existing(id);
            if (g != null) {
                requireMembers(g, req.getSnapshotIdsList());
                try (var held = locks.acquire(id)) {
                    store.deleteGroupSnapshot(id);
                }
            }
            return Csi.DeleteVolumeGroupSnapshotResponse.getDefaultInstance();
        });
    }

    private GroupSnapshot existing(String id) {
        return VolumeIds.isGroupSnapshotId(id) ? store.groupSnapshot(id).orElse(null) : null;
    }

    /** The spec's "snapshot list mismatch": the CO's list must name exactly the group's members. */
    private static void requireMembers(GroupSnapshot g, List<String> snapshotIds) {
        if (!new HashSet<>(snapshotIds).equals(new HashSet<>(g.snapshotIds())) || snapshotIds.size() != g.snapshotIds().size()) {
            throw CsiErrors.invalid("snapshot_ids " + snapshotIds + " do not match the members of group snapshot "
                    + g.id() + " " + g.snapshotIds());
        }
    }

    private Csi.VolumeGroupSnapshot toCsi(GroupSnapshot g) {
        var b = Csi.VolumeGroupSnapshot.newBuilder().setGroupSnapshotId(g.id()).setReadyToUse(g.readyToUse())
                .setCreationTime(Timestamp.newBuilder().setSeconds(g.createdAtMillis() / 1000)
                        .setNanos((int) (g.createdAtMillis() % 1000) * 1_000_000));
        for (String sid : g.snapshotIds()) {
            Snapshot s = store.snapshot(sid).orElseThrow(() -> CsiErrors.internal("member " + sid
                    + " of group snapshot " + g.id() + " is missing", null));
            b.addSnapshots(ControllerService.toCsi(s));
        }
        return b.build();
    }
}
