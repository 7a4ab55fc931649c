package io.efuse.csi.csi;

import static io.efuse.csi.csi.NodeRequests.absolute;
import static io.efuse.csi.csi.NodeRequests.checkCapability;
import static io.efuse.csi.csi.NodeRequests.mountFlags;
import static io.efuse.csi.csi.NodeRequests.parseGroup;
import static io.efuse.csi.csi.NodeRequests.requireCapability;
import static io.efuse.csi.csi.NodeRequests.requirePath;
import static io.efuse.csi.csi.NodeRequests.requirePresent;
import static io.efuse.csi.csi.NodeRequests.requireVolumeShapedId;

import csi.v1.Csi;
import csi.v1.Csi.VolumeCapability;
import csi.v1.NodeGrpc;
import io.efuse.csi.sys.LinuxConstants;
import io.efuse.csi.volume.BackingRoots;
import io.efuse.csi.volume.BackingStore;
import io.efuse.csi.volume.InlineVolume;
import io.efuse.csi.volume.InlineVolumes;
import io.efuse.csi.volume.EngineKind;
import io.efuse.csi.volume.Limits;
import io.efuse.csi.volume.LiveParameters;
import io.efuse.csi.volume.ModifiedSettings;
import io.efuse.csi.volume.GroupOwnership;
import io.efuse.csi.volume.NodePaths;
import io.efuse.csi.volume.PathProbe;
import io.efuse.csi.volume.MountedVolume;
import io.efuse.csi.volume.ServedVolumes;
import io.efuse.csi.volume.Usage;
import io.efuse.csi.volume.Volume;
import io.efuse.csi.volume.VolumeException;
import io.efuse.csi.volume.VolumeIds;
import io.efuse.csi.volume.VolumeMounter;
import io.efuse.csi.volume.VolumeStore;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * CSI Node: stages a volume by mounting an eFuse session over its backing directory at the staging path, and
 * publishes it by bind-mounting the staging path into the pod's target. Unpublish and unstage are idempotent and
 * work from the mount table, so targets that vanished or whose FUSE connection died are still cleaned up. Where
 * sessions outlive this process (the fd keeper's daemon serves them), a volume this process has no record of is
 * asked from the mounter first: after a restart, kubelet's retried calls find the live session and adopt it.
 *
 * <p>CSI ephemeral inline volumes (where allowed) have no CreateVolume and no NodeStageVolume: NodePublishVolume
 * makes one from the pod's volumeAttributes, stages it at a directory of the node's own and publishes it, and
 * NodeUnpublishVolume undoes all three. Their records ({@link InlineVolumes}) say which volumes are inline, so an
 * unpublish after a restart still deletes what the pod had.
 */
public final class NodeService extends NodeGrpc.NodeImplBase implements ServedVolumes, LiveParameters {
    private static final Logger LOG = LoggerFactory.getLogger(NodeService.class);
    /** volume_context keys kubelet sets on an inline volume's NodePublishVolume (podInfoOnMount adds the pod's). */
    static final String EPHEMERAL = "csi.storage.k8s.io/ephemeral";
    static final String POD_NAMESPACE = "csi.storage.k8s.io/pod.namespace";
    static final String POD_NAME = "csi.storage.k8s.io/pod.name";
    static final String POD_UID = "csi.storage.k8s.io/pod.uid";
    private final String nodeId;
    private final long maxVolumes;
    private final VolumeStore store;
    private final BackingRoots roots;
    private final VolumeMounter mounter;
    private final NodePaths paths;
    private final TargetBinder binder;
    private final NodeSessions sessions;
    private final InlinePublisher inlines;
    private final InlineOptions inline;

    public NodeService(String nodeId, long maxVolumes, VolumeStore store, BackingRoots roots, VolumeMounter mounter,
                       Duration statTimeout) {
        this(nodeId, maxVolumes, store, roots, mounter, statTimeout, InlineOptions.none());
    }

    public NodeService(String nodeId, long maxVolumes, VolumeStore store, BackingRoots roots, VolumeMounter mounter,
                       Duration statTimeout, InlineOptions inline) {
        this.inline = inline;
        this.nodeId = nodeId;
        this.maxVolumes = maxVolumes;
        this.store = store;
        this.roots = roots;
        this.mounter = mounter;
        this.paths = new NodePaths(statTimeout);
        this.binder = new TargetBinder(paths);
        this.sessions = new NodeSessions(nodeId, maxVolumes, store, mounter, paths, inline.records());
        this.inlines = new InlinePublisher(nodeId, roots, paths, binder, sessions, inline);
    }

    @Override
    public void nodeStageVolume(Csi.NodeStageVolumeRequest req, StreamObserver<Csi.NodeStageVolumeResponse> out) {
        Calls.run(out, () -> {
            String id = Calls.requireId(req.getVolumeId(), "volume_id");
            requirePresent(req.getStagingTargetPath(), "staging_target_path");
            VolumeCapability cap = requireCapability(req.hasVolumeCapability(), req.getVolumeCapability());
            Volume v = requireVolume(id);
            Path staging = requirePath(req.getStagingTargetPath(), "staging_target_path");
            checkCapability(cap, v);
            boolean readOnly = Capabilities.readOnly(cap.getAccessMode().getMode());
            String group = cap.getMount().getVolumeMountGroup();
            int gid = group.isEmpty() ? -1 : parseGroup(group);
            try (var held = sessions.locks.acquire(id)) {
                var existing = sessions.staged.get(id);
                if (existing.isEmpty()) {
                    existing = sessions.adopt(id, staging);
                }
                if (existing.isPresent()) {
                    StagedVolumes.Staged s = existing.get();
                    if (!s.stagingPath.equals(staging)) {
                        throw CsiErrors.failedPrecondition("volume " + id + " is already staged at " + s.stagingPath);
                    }
                    if (s.readOnly != readOnly) {
                        throw CsiErrors.alreadyExists("volume " + id + " is staged at " + staging + " "
                                + (s.readOnly ? "read-only" : "read-write"));
                    }
                    if (s.mount.alive()) {
                        return Csi.NodeStageVolumeResponse.getDefaultInstance();
                    }
                    LOG.warn("volume {}: the session at {} is dead; staging it again", id, staging);
                    sessions.closeQuietly(s);
                    sessions.staged.remove(id);
                }
                sessions.requireRoom();
                BackingStore backing = roots.of(v.backend());
                if (!backing.volumeExists(id)) {
                    throw CsiErrors.unavailable("volume " + id + " has no data on node " + nodeId + " yet (under "
                            + backing.root() + ")");
                }
                Path dir = backing.serve(id);
                if (gid >= 0) {
                    GroupOwnership.apply(dir, gid);
                }
                sessions.startSession(v, backing, dir, staging, readOnly);
                return Csi.NodeStageVolumeResponse.getDefaultInstance();
            } catch (IOException e) {
                throw CsiErrors.internal("stage volume " + id + " at " + staging + ": " + e.getMessage(), e);
            }
        });
    }

    @Override
    public void nodeUnstageVolume(Csi.NodeUnstageVolumeRequest req,
                                  StreamObserver<Csi.NodeUnstageVolumeResponse> out) {
        Calls.run(out, () -> {
            String id = Calls.requireId(req.getVolumeId(), "volume_id");
            requirePresent(req.getStagingTargetPath(), "staging_target_path");
            requireVolumeShapedId(id);
            Path staging = requirePath(req.getStagingTargetPath(), "staging_target_path");
            try (var held = sessions.locks.acquire(id)) {
                var s = sessions.staged.get(id);
                if (s.isEmpty()) {
                    s = sessions.adopt(id, staging);
                }
                if (s.isPresent() && s.get().stagingPath.equals(staging)) {
                    s.get().mount.close();
                    sessions.staged.remove(id);
                }
                paths.unmountAll(staging);
                return Csi.NodeUnstageVolumeResponse.getDefaultInstance();
            } catch (IOException e) {
                throw CsiErrors.internal("unstage volume " + id + " from " + staging + ": " + e.getMessage(), e);
            }
        });
    }

    @Override
    public void nodePublishVolume(Csi.NodePublishVolumeRequest req,
                                  StreamObserver<Csi.NodePublishVolumeResponse> out) {
        Calls.run(out, () -> {
            if ("true".equals(req.getVolumeContextMap().get(EPHEMERAL))) {
                return inlines.publish(req);
            }
            String id = Calls.requireId(req.getVolumeId(), "volume_id");
            requirePresent(req.getTargetPath(), "target_path");
            VolumeCapability cap = requireCapability(req.hasVolumeCapability(), req.getVolumeCapability());
            Volume v = requireVolume(id);
            if (req.getStagingTargetPath().isEmpty()) {
                throw CsiErrors.failedPrecondition("staging_target_path is required: volumes are staged first");
            }
            Path target = requirePath(req.getTargetPath(), "target_path");
            Path staging = requirePath(req.getStagingTargetPath(), "staging_target_path");
            checkCapability(cap, v);
            VolumeCapability.AccessMode.Mode mode = cap.getAccessMode().getMode();
            boolean readOnly = req.getReadonly() || Capabilities.readOnly(mode);
            long flags = mountFlags(cap.getMount().getMountFlagsList());
            if ((flags & LinuxConstants.MS_RDONLY) != 0) {
                readOnly = true;
            }
            String group = cap.getMount().getVolumeMountGroup();
            int gid = group.isEmpty() ? -1 : parseGroup(group);
            try (var held = sessions.locks.acquire(id)) {
                var known = sessions.staged.get(id);
                if (known.isEmpty()) {
                    known = sessions.adopt(id, staging);
                }
                StagedVolumes.Staged s = known.filter(x -> x.stagingPath.equals(staging)).orElseThrow(() ->
                        CsiErrors.failedPrecondition("volume " + id + " is not staged at " + staging));
                if (s.readOnly && !readOnly) {
                    throw CsiErrors.failedPrecondition("volume " + id + " is staged read-only at " + staging
                            + ": it cannot be published for writing (" + mode + ")");
                }
                binder.bind(s, roots.of(v.backend()).volumeDir(id), target, readOnly, flags, mode, gid);
                return Csi.NodePublishVolumeResponse.getDefaultInstance();
            } catch (IOException e) {
                throw CsiErrors.internal("publish volume " + id + " at " + target + ": " + e.getMessage(), e);
            }
        });
    }

    /** The inline volume's session at its staging directory: the one this process has, adopted, or mounted now. */
    /** Mounts the volume's eFuse session at staging and records it as sessions.staged. */
    /**
     * Gives the session of a volume staged on this node (or left by the last node plugin) the volume's mutable
     * parameters as they are recorded now, as far as the live session takes them, and notes what waits for the next
     * staging.
     */
    @Override
    public Optional<ModifiedSettings> apply(Volume v) throws IOException, VolumeException {
        // The node reconciler asks at every change of the volume's resource (an expansion too): a session that has
        // these parameters already needs nothing, and taking the volume's lock then would make the CO's own call on
        // it (NodeExpandVolume right after ControllerExpandVolume) fail with ABORTED.
        var current = sessions.staged.get(v.id());
        if (current.isPresent() && NodeSessions.given(v).equals(current.get().given)) {
            return Optional.of(new ModifiedSettings(current.get().mount.tier(), current.get().waiting));
        }
        try (var held = sessions.locks.acquire(v.id())) {
            var s = sessions.staged.get(v.id());
            if (s.isEmpty()) {
                s = sessions.adopt(v.id(), null);
            }
            if (s.isEmpty()) {
                return Optional.empty();
            }
            return Optional.of(sessions.applyTo(s.get(), v));
        }
    }

    @Override
    public List<String> waiting(String volumeId) {
        return sessions.staged.get(volumeId).map(s -> s.waiting).orElse(List.of());
    }

    /** The record of the inline volume whose handle the CO names, if it names one. */
    /** Volumes on this node, staged or inline, count against maxVolumes; RESOURCE_EXHAUSTED when none more fits. */
    @Override
    public void nodeUnpublishVolume(Csi.NodeUnpublishVolumeRequest req,
                                    StreamObserver<Csi.NodeUnpublishVolumeResponse> out) {
        Calls.run(out, () -> {
            String id = Calls.requireId(req.getVolumeId(), "volume_id");
            requirePresent(req.getTargetPath(), "target_path");
            if (inlines.record(id).isPresent()) {
                return inlines.unpublish(id, requirePath(req.getTargetPath(), "target_path"));
            }
            if (!inline.allowed()) {
                requireVolumeShapedId(id);
            }
            // Past this point an id not shaped like ours is an inline volume's handle whose unpublish already ended:
            // its target is cleaned up like any other.
            Path target = requirePath(req.getTargetPath(), "target_path");
            try (var held = sessions.locks.acquire(id)) {
                paths.unpublish(target);
                sessions.staged.get(id).ifPresent(s -> s.publications.remove(target));
                return Csi.NodeUnpublishVolumeResponse.getDefaultInstance();
            } catch (IOException e) {
                throw CsiErrors.internal("unpublish volume " + id + " from " + target + ": " + e.getMessage(), e);
            }
        });
    }

    @Override
    public void nodeGetVolumeStats(Csi.NodeGetVolumeStatsRequest req,
                                   StreamObserver<Csi.NodeGetVolumeStatsResponse> out) {
        Calls.run(out, () -> {
            String requested = Calls.requireId(req.getVolumeId(), "volume_id");
            requirePresent(req.getVolumePath(), "volume_path");
            Optional<InlineVolume> inlineVolume = inlines.record(requested);
            String id = inlineVolume.map(InlineVolume::id).orElse(requested);
            Volume v = inlineVolume.isPresent() ? inlineVolume.get().asVolume(nodeId) : requireVolume(id);
            if (!req.getStagingTargetPath().isEmpty()) {
                requirePath(req.getStagingTargetPath(), "staging_target_path");
            }
            StagedVolumes.Staged s = sessions.stagedOrAdopted(id);
            Path path = requireServedAt(id, s, req.getVolumePath());
            PathProbe.Result r = paths.probe(path);
            if (r.state() == PathProbe.State.MISSING) {
                throw CsiErrors.notFound("volume path " + path + " does not exist");
            }
            boolean alive = s.mount.alive();
            String problem = !alive ? "the eFuse session of this volume has stopped"
                    : r.state() == PathProbe.State.BROKEN ? r.detail() : "";
            Usage u;
            String engine = "?";
            try {
                BackingStore backing = roots.of(v.backend());
                engine = backing.engineOf(id).map(EngineKind::label).orElse("?");
                u = backing.usage(id, v.limits());
            } catch (IOException e) {
                u = null;
                if (problem.isEmpty()) {
                    problem = "reading usage: " + e.getMessage();
                }
            }
            var resp = Csi.NodeGetVolumeStatsResponse.newBuilder();
            if (u != null) {
                resp.addUsage(Csi.VolumeUsage.newBuilder().setUnit(Csi.VolumeUsage.Unit.BYTES)
                        .setTotal(u.bytesTotal()).setUsed(u.bytesUsed()).setAvailable(u.bytesAvailable()));
                resp.addUsage(Csi.VolumeUsage.newBuilder().setUnit(Csi.VolumeUsage.Unit.INODES)
                        .setTotal(u.inodesTotal()).setUsed(u.inodesUsed()).setAvailable(u.inodesAvailable()));
            }
            resp.setVolumeCondition(Csi.VolumeCondition.newBuilder().setAbnormal(!problem.isEmpty())
                    .setMessage(problem.isEmpty() ? "the volume is served (engine " + engine + ", tier "
                            + s.mount.tier() + ")" + ControllerService.waitingNote(s.waiting, v) : problem));
            return resp.build();
        });
    }

    @Override
    public void nodeExpandVolume(Csi.NodeExpandVolumeRequest req, StreamObserver<Csi.NodeExpandVolumeResponse> out) {
        Calls.run(out, () -> {
            String id = Calls.requireId(req.getVolumeId(), "volume_id");
            requirePresent(req.getVolumePath(), "volume_path");
            if (inlines.record(id).isPresent()) {
                throw CsiErrors.failedPrecondition("inline volume " + id + " keeps the size its pod's volumeAttributes "
                        + "give it: no CO expands an inline volume");
            }
            Volume v = requireVolume(id);
            if (!req.getStagingTargetPath().isEmpty()) {
                requirePath(req.getStagingTargetPath(), "staging_target_path");
            }
            if (req.hasVolumeCapability()) {
                // The spec's code for capabilities the volume does not support is INVALID_ARGUMENT here.
                ControllerService.capabilityProblem(List.of(req.getVolumeCapability()), v.backend()).ifPresent(why -> {
                    throw CsiErrors.invalid(why);
                });
            }
            long required = req.getCapacityRange().getRequiredBytes();
            long limit = req.getCapacityRange().getLimitBytes();
            if (required < 0 || limit < 0 || (limit > 0 && limit < required)) {
                throw CsiErrors.invalid("capacity_range is not a valid range");
            }
            Path path = requireServedAt(id, sessions.stagedOrAdopted(id), req.getVolumePath());
            long bytes = Math.max(required, v.capacityBytes());
            if (limit > 0 && bytes > limit) {
                throw CsiErrors.outOfRange("volume " + id + " has " + v.capacityBytes() + " bytes, above limit " + limit);
            }
            Limits limits = new Limits(bytes, Math.max(v.inodeLimit(), VolumeParameters.inodeLimit(v.parameters(),
                    bytes)));
            try (var held = sessions.locks.acquire(id)) {
                BackingStore backing = roots.of(v.backend());
                if (backing.engineOf(id).map(EngineKind::kernelEnforced).orElse(false)) {
                    backing.resizeVolume(id, limits);
                    var s = sessions.staged.get(id);
                    if (s.isPresent() && backing.served(id, limits).shownBytes() > 0) {
                        s.get().mount.resize(limits); // the size df in the volume shows
                    }
                } else {
                    // Looked up again under the lock: an unstage may have ended the session since the check.
                    var s = sessions.staged.get(id);
                    if (s.isEmpty()) {
                        throw CsiErrors.notFound("volume " + id + " is no longer staged on node " + nodeId);
                    }
                    s.get().mount.resize(limits);
                }
                return Csi.NodeExpandVolumeResponse.newBuilder().setCapacityBytes(bytes).build();
            } catch (IOException e) {
                throw CsiErrors.internal("expand volume " + id + " at " + path + ": " + e.getMessage(), e);
            }
        });
    }

    @Override
    public void nodeGetCapabilities(Csi.NodeGetCapabilitiesRequest req,
                                    StreamObserver<Csi.NodeGetCapabilitiesResponse> out) {
        var resp = Csi.NodeGetCapabilitiesResponse.newBuilder();
        for (var type : Capabilities.NODE) {
            resp.addCapabilities(Csi.NodeServiceCapability.newBuilder().setRpc(
                    Csi.NodeServiceCapability.RPC.newBuilder().setType(type)));
        }
        out.onNext(resp.build());
        out.onCompleted();
    }

    @Override
    public void nodeGetInfo(Csi.NodeGetInfoRequest req, StreamObserver<Csi.NodeGetInfoResponse> out) {
        out.onNext(Csi.NodeGetInfoResponse.newBuilder().setNodeId(nodeId).setMaxVolumesPerNode(maxVolumes)
                .setAccessibleTopology(Csi.Topology.newBuilder().putSegments(Capabilities.TOPOLOGY_NODE_KEY, nodeId))
                .build());
        out.onCompleted();
    }

    /** {@link #unstageAll(Duration)} within 10 s, the default of --grace-seconds. */
    public void unstageAll() {
        unstageAll(Duration.ofSeconds(10));
    }

    /**
     * Ends every session this process serves, for the node plugin's shutdown: all at once, within grace. The targets
     * are kubelet's and stay; a connection still bound at one cannot end by itself and is aborted at once.
     */
    public void unstageAll(Duration grace) {
        SessionShutdown.closeAll(sessions.staged.all(), grace, false);
    }

    /**
     * Unmounts everything this process staged and published, for the shutdown of standalone, which owns its targets
     * too: all at once, within grace. A volume's targets are detached before its staging mount: a bind of the staging
     * mount keeps the FUSE connection up, so closing the session first would wait for workers that cannot end.
     * Connections still in use when the grace runs out (a file open in a detached target) are aborted.
     */
    public void unmountAll(Duration grace) {
        SessionShutdown.closeAll(sessions.staged.all(), grace, true);
    }

    public int stagedCount() {
        return sessions.staged.size();
    }

    /**
     * A volume this node serves, staged by this process or adopted from the mounter, held against other operations on
     * it until the claim closes. A lookup that fails is NOT_READY, never "not served": a group snapshot counts on it.
     */
    @Override
    public ServedVolumes.Claim claim(String id) throws IOException, VolumeException {
        OperationLocks.Held held;
        try {
            held = sessions.locks.acquire(id);
        } catch (io.grpc.StatusRuntimeException e) {
            throw new VolumeException(VolumeException.Reason.BUSY, "volume " + id + " is being staged, published or"
                    + " unstaged on node " + nodeId + ": try again");
        }
        try {
            Optional<StagedVolumes.Staged> s = sessions.staged.get(id);
            if (s.isEmpty()) {
                try {
                    s = sessions.adopt(id, VolumeIds.isInlineId(id) && inline.records() != null
                            ? inline.records().stagingPath(id) : null);
                } catch (IOException e) {
                    throw new VolumeException(VolumeException.Reason.NOT_READY, "volume " + id
                            + ": cannot tell whether a session serves it: " + e.getMessage(), e);
                }
            }
            Optional<MountedVolume> mount = s.map(x -> x.mount);
            return new ServedVolumes.Claim() {
                @Override
                public Optional<MountedVolume> mount() {
                    return mount;
                }

                @Override
                public void close() {
                    held.close();
                }
            };
        } catch (VolumeException | RuntimeException e) {
            held.close();
            throw e;
        }
    }

    /** {@link #adopt} for reports: a volume that cannot be looked up now is reported as not sessions.staged. */
    /** The volume as this node serves it: staged by this process, or adopted from the mounter; else NOT_FOUND. */
    /**
     * volume_path as a path where the staged volume is served (its staging path or a target bound to it); NOT_FOUND
     * otherwise, which is the spec's code for "does not exist on the specified volume_path". A path that is not
     * absolute and normalized can be no such place, so it answers the same and never reaches the filesystem.
     */
    private Path requireServedAt(String id, StagedVolumes.Staged s, String raw) {
        Path path = absolute(raw);
        if (path == null) {
            throw CsiErrors.notFound("volume " + id + " is not available at '" + raw
                    + "': volume_path must be an absolute path where it is staged or published");
        }
        if (path.equals(s.stagingPath)) {
            return path;
        }
        try {
            if (paths.boundTo(s.stagingPath).contains(path)) {
                return path;
            }
        } catch (IOException e) {
            throw CsiErrors.internal("reading the mount table: " + e.getMessage(), e);
        }
        throw CsiErrors.notFound("volume " + id + " is neither staged nor published at " + path);
    }

    private Volume requireVolume(String id) {
        if (!VolumeIds.isVolumeId(id)) {
            throw CsiErrors.notFound("volume " + id + " does not exist");
        }
        return store.volume(id).filter(Volume::ready)
                .orElseThrow(() -> CsiErrors.notFound("volume " + id + " does not exist"));
    }

}
