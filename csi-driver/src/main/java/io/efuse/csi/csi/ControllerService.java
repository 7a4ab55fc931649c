package io.efuse.csi.csi;

import static io.efuse.csi.csi.Calls.requireId;
import static io.efuse.csi.csi.Calls.run;

import com.google.protobuf.Timestamp;
import csi.v1.ControllerGrpc;
import csi.v1.Csi;
import csi.v1.Csi.VolumeCapability;
import io.efuse.csi.volume.Backend;
import io.efuse.csi.volume.ContentSource;
import io.efuse.csi.volume.LiveParameters;
import io.efuse.csi.volume.Snapshot;
import io.efuse.csi.volume.Volume;
import io.efuse.csi.volume.VolumeIds;
import io.efuse.csi.volume.VolumeSpec;
import io.efuse.csi.volume.VolumeStore;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * CSI Controller: volume and snapshot lifecycle over a {@link VolumeStore}. Validates every request, holds one
 * operation per volume at a time, and returns the codes the spec names; the store does the work.
 */
public final class ControllerService extends ControllerGrpc.ControllerImplBase {
    static final long DEFAULT_CAPACITY = 1L << 30;

    private final VolumeStore store;
    private final LiveParameters live;
    private final OperationLocks locks = new OperationLocks();

    /** @param live where ControllerModifyVolume's parameters reach a staged volume's session */
    public ControllerService(VolumeStore store, LiveParameters live) {
        this.store = store;
        this.live = live;
    }

    @Override
    public void createVolume(Csi.CreateVolumeRequest req, StreamObserver<Csi.CreateVolumeResponse> out) {
        run(out, () -> {
            if (req.getName().isEmpty()) {
                throw CsiErrors.invalid("name is required");
            }
            Map<String, String> params = VolumeParameters.fixed(req.getParametersMap());
            Map<String, String> mutable = VolumeParameters.mutable(req.getMutableParamsMap());
            Backend backend = VolumeParameters.backend(params);
            checkCapabilities(req.getVolumeCapabilitiesList(), backend, true);
            long required = req.getCapacityRange().getRequiredBytes();
            long limit = req.getCapacityRange().getLimitBytes();
            checkRange(required, limit);
            long capacity = required > 0 ? required : (limit > 0 ? Math.min(limit, DEFAULT_CAPACITY) : DEFAULT_CAPACITY);
            ContentSource source = contentSource(req);
            List<String> allowed = new ArrayList<>();
            List<String> preferred = new ArrayList<>();
            if (backend == Backend.LOCAL && req.hasAccessibilityRequirements()) {
                allowed.addAll(nodesOf(req.getAccessibilityRequirements().getRequisiteList()));
                preferred.addAll(nodesOf(req.getAccessibilityRequirements().getPreferredList()));
            }
            VolumeSpec spec = new VolumeSpec(req.getName(), required, limit, capacity,
                    VolumeParameters.inodeLimit(params, capacity), backend, allowed, preferred, source, params, mutable);
            try (var held = locks.acquire(spec.id())) {
                Volume v = store.create(spec);
                return Csi.CreateVolumeResponse.newBuilder().setVolume(toCsi(v)).build();
            }
        });
    }

    @Override
    public void deleteVolume(Csi.DeleteVolumeRequest req, StreamObserver<Csi.DeleteVolumeResponse> out) {
        run(out, () -> {
            String id = requireId(req.getVolumeId(), "volume_id");
            if (VolumeIds.isVolumeId(id)) {
                try (var held = locks.acquire(id)) {
                    store.delete(id);
                }
            }
            return Csi.DeleteVolumeResponse.getDefaultInstance();
        });
    }

    @Override
    public void validateVolumeCapabilities(Csi.ValidateVolumeCapabilitiesRequest req,
                                           StreamObserver<Csi.ValidateVolumeCapabilitiesResponse> out) {
        run(out, () -> {
            String id = requireId(req.getVolumeId(), "volume_id");
            if (req.getVolumeCapabilitiesCount() == 0) {
                throw CsiErrors.invalid("volume_capabilities are required");
            }
            Volume v = requireVolume(id);
            var resp = Csi.ValidateVolumeCapabilitiesResponse.newBuilder();
            Optional<String> why = capabilityProblem(req.getVolumeCapabilitiesList(), v.backend());
            if (why.isEmpty() && !req.getParametersMap().isEmpty()) {
                Map<String, String> asked = VolumeParameters.fixed(req.getParametersMap());
                if (!asked.equals(v.parameters())) {
                    why = Optional.of("the volume was created with parameters " + v.parameters());
                }
            }
            if (why.isPresent()) {
                resp.setMessage(why.get());
            } else {
                resp.setConfirmed(Csi.ValidateVolumeCapabilitiesResponse.Confirmed.newBuilder()
                        .putAllVolumeContext(req.getVolumeContextMap())
                        .addAllVolumeCapabilities(req.getVolumeCapabilitiesList())
                        .putAllParameters(req.getParametersMap())
                        .putAllMutableParams(req.getMutableParamsMap()));
            }
            return resp.build();
        });
    }

    @Override
    public void listVolumes(Csi.ListVolumesRequest req, StreamObserver<Csi.ListVolumesResponse> out) {
        run(out, () -> {
            Page<Volume> page = page(store.volumes(), Volume::id, req.getStartingToken(), req.getMaxEntries(),
                    VolumeIds::isVolumeId);
            var resp = Csi.ListVolumesResponse.newBuilder().setNextToken(page.nextToken());
            for (Volume v : page.items()) {
                resp.addEntries(Csi.ListVolumesResponse.Entry.newBuilder().setVolume(toCsi(v))
                        .setStatus(Csi.ListVolumesResponse.VolumeStatus.newBuilder().setVolumeCondition(condition(v))));
            }
            return resp.build();
        });
    }

    @Override
    public void getCapacity(Csi.GetCapacityRequest req, StreamObserver<Csi.GetCapacityResponse> out) {
        run(out, () -> {
            Map<String, String> params = VolumeParameters.fixed(req.getParametersMap());
            Backend backend = VolumeParameters.backend(params);
            if (capabilityProblem(req.getVolumeCapabilitiesList(), backend).isPresent()) {
                return Csi.GetCapacityResponse.newBuilder().setAvailableCapacity(0).build();
            }
            long available;
            if (backend == Backend.LOCAL) {
                String node = req.hasAccessibleTopology()
                        ? req.getAccessibleTopology().getSegmentsMap().get(Capabilities.TOPOLOGY_NODE_KEY) : null;
                if (node != null) {
                    available = store.availableBytes(backend, node);
                } else {
                    available = 0;
                    for (String n : store.nodes()) {
                        available = Math.max(available, store.availableBytes(backend, n));
                    }
                }
            } else {
                available = store.availableBytes(backend, null);
            }
            return Csi.GetCapacityResponse.newBuilder().setAvailableCapacity(available)
                    .setMaximumVolumeSize(com.google.protobuf.Int64Value.of(available)).build();
        });
    }

    @Override
    public void controllerGetCapabilities(Csi.ControllerGetCapabilitiesRequest req,
                                          StreamObserver<Csi.ControllerGetCapabilitiesResponse> out) {
        var resp = Csi.ControllerGetCapabilitiesResponse.newBuilder();
        for (var type : Capabilities.CONTROLLER) {
            resp.addCapabilities(Csi.ControllerServiceCapability.newBuilder().setRpc(
                    Csi.ControllerServiceCapability.RPC.newBuilder().setType(type)));
        }
        out.onNext(resp.build());
        out.onCompleted();
    }

    @Override
    public void createSnapshot(Csi.CreateSnapshotRequest req, StreamObserver<Csi.CreateSnapshotResponse> out) {
        run(out, () -> {
            if (req.getName().isEmpty()) {
                throw CsiErrors.invalid("name is required");
            }
            String source = requireId(req.getSourceVolumeId(), "source_volume_id");
            for (String k : req.getParametersMap().keySet()) {
                if (!k.startsWith("csi.storage.k8s.io/")) {
                    throw CsiErrors.invalid("unknown snapshot parameter '" + k + "': snapshots take none");
                }
            }
            String id = VolumeIds.snapshotId(req.getName());
            Optional<Snapshot> existing = store.snapshot(id);
            if (existing.isPresent() && !existing.get().sourceVolumeId().equals(source)) {
                throw CsiErrors.alreadyExists("snapshot '" + req.getName() + "' exists for volume "
                        + existing.get().sourceVolumeId());
            }
            if (!VolumeIds.isVolumeId(source)) {
                throw CsiErrors.notFound("volume " + source + " does not exist");
            }
            try (var held = locks.acquire(id, source)) {
                Snapshot s = store.createSnapshot(req.getName(), source);
                return Csi.CreateSnapshotResponse.newBuilder().setSnapshot(toCsi(s)).build();
            }
        });
    }

    @Override
    public void deleteSnapshot(Csi.DeleteSnapshotRequest req, StreamObserver<Csi.DeleteSnapshotResponse> out) {
        run(out, () -> {
            String id = requireId(req.getSnapshotId(), "snapshot_id");
            if (VolumeIds.isSnapshotId(id)) {
                try (var held = locks.acquire(id)) {
                    store.deleteSnapshot(id);
                }
            }
            return Csi.DeleteSnapshotResponse.getDefaultInstance();
        });
    }

    @Override
    public void listSnapshots(Csi.ListSnapshotsRequest req, StreamObserver<Csi.ListSnapshotsResponse> out) {
        run(out, () -> {
            List<Snapshot> all = store.snapshots();
            if (!req.getSnapshotId().isEmpty()) {
                all = all.stream().filter(s -> s.id().equals(req.getSnapshotId())).toList();
            }
            if (!req.getSourceVolumeId().isEmpty()) {
                all = all.stream().filter(s -> s.sourceVolumeId().equals(req.getSourceVolumeId())).toList();
            }
            Page<Snapshot> page = page(all, Snapshot::id, req.getStartingToken(), req.getMaxEntries(),
                    VolumeIds::isSnapshotId);
            var resp = Csi.ListSnapshotsResponse.newBuilder().setNextToken(page.nextToken());
            for (Snapshot s : page.items()) {
                resp.addEntries(Csi.ListSnapshotsResponse.Entry.newBuilder().setSnapshot(toCsi(s)));
            }
            return resp.build();
        });
    }

    @Override
    public void getSnapshot(Csi.GetSnapshotRequest req, StreamObserver<Csi.GetSnapshotResponse> out) {
        run(out, () -> {
            String id = requireId(req.getSnapshotId(), "snapshot_id");
            Snapshot s = (VolumeIds.isSnapshotId(id) ? store.snapshot(id) : Optional.<Snapshot>empty())
                    .orElseThrow(() -> CsiErrors.notFound("snapshot " + id + " does not exist"));
            return Csi.GetSnapshotResponse.newBuilder().setSnapshot(toCsi(s)).build();
        });
    }

    @Override
    public void controllerExpandVolume(Csi.ControllerExpandVolumeRequest req,
                                       StreamObserver<Csi.ControllerExpandVolumeResponse> out) {
        run(out, () -> {
            String id = requireId(req.getVolumeId(), "volume_id");
            if (!req.hasCapacityRange()) {
                throw CsiErrors.invalid("capacity_range is required");
            }
            long required = req.getCapacityRange().getRequiredBytes();
            long limit = req.getCapacityRange().getLimitBytes();
            checkRange(required, limit);
            Volume v = requireVolume(id);
            if (req.hasVolumeCapability()) {
                checkCapabilities(List.of(req.getVolumeCapability()), v.backend(), true);
            }
            if (limit > 0 && v.capacityBytes() > limit) {
                throw CsiErrors.outOfRange("volume " + id + " already has " + v.capacityBytes()
                        + " bytes, more than the limit of " + limit + "; volumes do not shrink");
            }
            try (var held = locks.acquire(id)) {
                long bytes = Math.max(required, v.capacityBytes());
                long inodes = VolumeParameters.inodeLimit(v.parameters(), bytes);
                Volume grown = store.expand(id, bytes, Math.max(inodes, v.inodeLimit()));
                return Csi.ControllerExpandVolumeResponse.newBuilder().setCapacityBytes(grown.capacityBytes())
                        .setNodeExpansionRequired(true).build();
            }
        });
    }

    @Override
    public void controllerGetVolume(Csi.ControllerGetVolumeRequest req,
                                    StreamObserver<Csi.ControllerGetVolumeResponse> out) {
        run(out, () -> {
            Volume v = requireVolume(requireId(req.getVolumeId(), "volume_id"));
            return Csi.ControllerGetVolumeResponse.newBuilder().setVolume(toCsi(v))
                    .setStatus(Csi.ControllerGetVolumeResponse.VolumeStatus.newBuilder()
                            .setVolumeCondition(condition(v))).build();
        });
    }

    @Override
    public void controllerModifyVolume(Csi.ControllerModifyVolumeRequest req,
                                       StreamObserver<Csi.ControllerModifyVolumeResponse> out) {
        run(out, () -> {
            String id = requireId(req.getVolumeId(), "volume_id");
            Map<String, String> mutable = VolumeParameters.mutable(req.getMutableParamsMap());
            requireVolume(id);
            try (var held = locks.acquire(id)) {
                // Recorded first: what the live session cannot take, the next staging applies from the record.
                Volume changed = store.modify(id, mutable);
                live.apply(changed);
            } catch (java.io.IOException e) {
                throw CsiErrors.internal("volume " + id + ": the new parameters are recorded, but applying them to its"
                        + " session failed: " + e.getMessage(), e);
            }
            return Csi.ControllerModifyVolumeResponse.getDefaultInstance();
        });
    }

    // ControllerPublishVolume / ControllerUnpublishVolume stay UNIMPLEMENTED: there is nothing to attach.

    private Volume requireVolume(String id) {
        if (!VolumeIds.isVolumeId(id)) {
            throw CsiErrors.notFound("volume " + id + " does not exist");
        }
        return store.volume(id).filter(v -> v.state() != Volume.State.DELETING)
                .orElseThrow(() -> CsiErrors.notFound("volume " + id + " does not exist"));
    }

    private static void checkRange(long required, long limit) {
        if (required < 0 || limit < 0) {
            throw CsiErrors.invalid("capacity_range bytes cannot be negative");
        }
        if (limit > 0 && limit < required) {
            throw CsiErrors.invalid("capacity_range limit_bytes " + limit + " is below required_bytes " + required);
        }
    }

    private static ContentSource contentSource(Csi.CreateVolumeRequest req) {
        if (!req.hasVolumeContentSource()) {
            return null;
        }
        Csi.VolumeContentSource src = req.getVolumeContentSource();
        if (src.hasSnapshot()) {
            String id = src.getSnapshot().getSnapshotId();
            if (id.isEmpty()) {
                throw CsiErrors.invalid("volume_content_source.snapshot.snapshot_id is required");
            }
            if (!VolumeIds.isSnapshotId(id)) {
                throw CsiErrors.notFound("source snapshot " + id + " does not exist");
            }
            return new ContentSource(ContentSource.Kind.SNAPSHOT, id);
        }
        if (src.hasVolume()) {
            String id = src.getVolume().getVolumeId();
            if (id.isEmpty()) {
                throw CsiErrors.invalid("volume_content_source.volume.volume_id is required");
            }
            if (!VolumeIds.isVolumeId(id)) {
                throw CsiErrors.notFound("source volume " + id + " does not exist");
            }
            return new ContentSource(ContentSource.Kind.VOLUME, id);
        }
        throw CsiErrors.invalid("volume_content_source names neither a snapshot nor a volume");
    }

    private static List<String> nodesOf(List<Csi.Topology> topologies) {
        LinkedHashSet<String> nodes = new LinkedHashSet<>();
        for (Csi.Topology t : topologies) {
            String node = t.getSegmentsMap().get(Capabilities.TOPOLOGY_NODE_KEY);
            if (node != null && !node.isEmpty()) {
                nodes.add(node);
            }
        }
        return List.copyOf(nodes);
    }

    /** Validates capabilities of a request; {@code required} when the request must carry at least one. */
    static void checkCapabilities(List<VolumeCapability> caps, Backend backend, boolean required) {
        if (required && caps.isEmpty()) {
            throw CsiErrors.invalid("volume_capabilities are required");
        }
        capabilityProblem(caps, backend).ifPresent(why -> {
            throw CsiErrors.invalid(why);
        });
    }

    static Optional<String> capabilityProblem(List<VolumeCapability> caps, Backend backend) {
        for (VolumeCapability c : caps) {
            if (c.hasBlock()) {
                return Optional.of("block access is not supported: eFuse volumes are filesystems");
            }
            if (!c.hasMount()) {
                return Optional.of("a volume capability needs an access type (mount)");
            }
            if (!Capabilities.supportsFsType(c.getMount().getFsType())) {
                return Optional.of("fs_type '" + c.getMount().getFsType() + "' is not supported: eFuse volumes are "
                        + "served by eFuse, leave fs_type empty");
            }
            if (!c.hasAccessMode() || c.getAccessMode().getMode() == VolumeCapability.AccessMode.Mode.UNKNOWN) {
                return Optional.of("a volume capability needs an access mode");
            }
            if (!Capabilities.supports(backend, c.getAccessMode().getMode())) {
                return Optional.of("access mode " + c.getAccessMode().getMode() + " needs the shared backend: "
                        + backend.label() + " volumes live on one node");
            }
        }
        return Optional.empty();
    }

    private Csi.VolumeCondition condition(Volume v) {
        return switch (v.state()) {
            case READY -> Csi.VolumeCondition.newBuilder().setAbnormal(false)
                    .setMessage("ready" + waitingNote(live.waiting(v.id()), v)).build();
            case FAILED -> Csi.VolumeCondition.newBuilder().setAbnormal(true).setMessage(v.message()).build();
            default -> Csi.VolumeCondition.newBuilder().setAbnormal(true)
                    .setMessage(v.state().name().toLowerCase(java.util.Locale.ROOT)).build();
        };
    }

    /** What a condition's message says of mutable parameters that wait for the next staging (empty: none). */
    static String waitingNote(List<String> waiting, Volume v) {
        if (waiting.isEmpty()) {
            return "";
        }
        StringBuilder b = new StringBuilder("; waiting for the next staging:");
        for (String key : waiting) {
            b.append(' ').append(key).append('=').append(VolumeParameters.effective(key, v.parameters(),
                    v.mutableParameters(), "?"));
        }
        return b.toString();
    }

    static Csi.Volume toCsi(Volume v) {
        var b = Csi.Volume.newBuilder().setVolumeId(v.id()).setCapacityBytes(v.capacityBytes())
                .putVolumeContext("backend", v.backend().label());
        if (v.node() != null) {
            b.putVolumeContext("node", v.node());
            b.addAccessibleTopology(Csi.Topology.newBuilder().putSegments(Capabilities.TOPOLOGY_NODE_KEY, v.node()));
        }
        if (v.source() != null) {
            var src = Csi.VolumeContentSource.newBuilder();
            if (v.source().kind() == ContentSource.Kind.SNAPSHOT) {
                src.setSnapshot(Csi.VolumeContentSource.SnapshotSource.newBuilder().setSnapshotId(v.source().id()));
            } else {
                src.setVolume(Csi.VolumeContentSource.VolumeSource.newBuilder().setVolumeId(v.source().id()));
            }
            b.setContentSource(src);
        }
        return b.build();
    }

    static Csi.Snapshot toCsi(Snapshot s) {
        return Csi.Snapshot.newBuilder().setSnapshotId(s.id()).setSourceVolumeId(s.sourceVolumeId())
                .setSizeBytes(s.sizeBytes()).setReadyToUse(s.readyToUse()).setGroupSnapshotId(s.groupSnapshotId())
                .setCreationTime(Timestamp.newBuilder().setSeconds(s.createdAtMillis() / 1000)
                        .setNanos((int) (s.createdAtMillis() % 1000) * 1_000_000)).build();
    }

    record Page<T>(List<T> items, String nextToken) {}

    /** Pages by id: the token is the last id handed out, so deletions between pages lose nothing. */
    static <T> Page<T> page(List<T> sorted, Function<T, String> id, String token, int maxEntries,
                            java.util.function.Predicate<String> validToken) {
        if (maxEntries < 0) {
            throw CsiErrors.invalid("max_entries cannot be negative");
        }
        if (!token.isEmpty() && !validToken.test(token)) {
            throw CsiErrors.aborted("starting_token '" + token + "' was not issued by this driver");
        }
        List<T> rest = token.isEmpty() ? sorted
                : sorted.stream().filter(t -> id.apply(t).compareTo(token) > 0).toList();
        if (maxEntries == 0 || rest.size() <= maxEntries) {
            return new Page<>(rest, "");
        }
        List<T> items = rest.subList(0, maxEntries);
        return new Page<>(items, id.apply(items.get(items.size() - 1)));
    }
}
