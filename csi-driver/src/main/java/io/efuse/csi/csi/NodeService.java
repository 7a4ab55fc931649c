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
import io.efuse.csi.volume.Backend;
import io.efuse.csi.volume.BackingRoots;
import io.efuse.csi.volume.BackingStore;
import io.efuse.csi.volume.InlineVolume;
import io.efuse.csi.volume.InlineVolumes;
import io.efuse.csi.volume.EngineKind;
import io.efuse.csi.volume.Limits;
import io.efuse.csi.volume.LiveParameters;
import io.efuse.csi.volume.ModifiedSettings;
import io.efuse.csi.volume.ServedLimits;
import io.efuse.csi.volume.MountSpec;
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
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
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
    private final OperationLocks locks = new OperationLocks();
    private final StagedVolumes staged = new StagedVolumes();
    private final InlineOptions inline;
    /** Held while a new inline volume is counted against maxVolumes and recorded: two cannot take one last place. */
    private final Object admission = new Object();

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
            try (var held = locks.acquire(id)) {
                var existing = staged.get(id);
                if (existing.isEmpty()) {
                    existing = adopt(id, staging);
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
                    closeQuietly(s);
                    staged.remove(id);
                }
                requireRoom();
                BackingStore backing = roots.of(v.backend());
                if (!backing.volumeExists(id)) {
                    throw CsiErrors.unavailable("volume " + id + " has no data on node " + nodeId + " yet (under "
                            + backing.root() + ")");
                }
                Path dir = backing.serve(id);
                if (gid >= 0) {
                    GroupOwnership.apply(dir, gid);
                }
                startSession(v, backing, dir, staging, readOnly);
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
            try (var held = locks.acquire(id)) {
                var s = staged.get(id);
                if (s.isEmpty()) {
                    s = adopt(id, staging);
                }
                if (s.isPresent() && s.get().stagingPath.equals(staging)) {
                    s.get().mount.close();
                    staged.remove(id);
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
                return publishInline(req);
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
            try (var held = locks.acquire(id)) {
                var known = staged.get(id);
                if (known.isEmpty()) {
                    known = adopt(id, staging);
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

    /**
     * NodePublishVolume of an inline volume: the first call makes the volume from the pod's volumeAttributes (its
     * record first, then its data directory), mounts its session at the node's own staging directory and binds it at
     * the target; a repeated call finds each step done (or redoes the one a crash or a restart undid). A first call
     * that fails leaves nothing: kubelet does not unpublish a volume whose publish failed for good.
     */
    private Csi.NodePublishVolumeResponse publishInline(Csi.NodePublishVolumeRequest req) throws VolumeException {
        String handle = Calls.requireId(req.getVolumeId(), "volume_id");
        requirePresent(req.getTargetPath(), "target_path");
        VolumeCapability cap = requireCapability(req.hasVolumeCapability(), req.getVolumeCapability());
        if (!inline.allowed()) {
            throw CsiErrors.failedPrecondition("volume " + handle + " is a CSI ephemeral inline volume, which this "
                    + "node plugin does not make: start it with --allow-inline-volumes (the chart's "
                    + "inlineVolumes.enabled=true, which also lists Ephemeral in the CSIDriver's volumeLifecycleModes)");
        }
        Map<String, String> context = req.getVolumeContextMap();
        VolumeParameters.Inline want = VolumeParameters.inline(context, inline.maxBytes());
        Path target = requirePath(req.getTargetPath(), "target_path");
        ControllerService.capabilityProblem(List.of(cap), Backend.LOCAL).ifPresent(why -> {
            throw CsiErrors.failedPrecondition(why);
        });
        VolumeCapability.AccessMode.Mode mode = cap.getAccessMode().getMode();
        long flags = mountFlags(cap.getMount().getMountFlagsList());
        boolean readOnly = req.getReadonly() || Capabilities.readOnly(mode) || (flags & LinuxConstants.MS_RDONLY) != 0;
        String group = cap.getMount().getVolumeMountGroup();
        int gid = group.isEmpty() ? -1 : parseGroup(group);
        InlineVolumes records = inline.records();
        String id = VolumeIds.inlineId(handle);
        try (var held = locks.acquire(id)) {
            InlineVolume rec = records.get(id).orElse(null);
            boolean made = rec == null;
            if (rec != null) {
                if (!rec.sameVolume(want.bytes(), want.inodes(), want.parameters())) {
                    throw CsiErrors.alreadyExists("inline volume " + handle + " exists with " + rec.capacityBytes()
                            + " bytes, " + rec.inodeLimit() + " inodes and " + rec.parameters() + ", not as asked now ("
                            + want.bytes() + " bytes, " + want.inodes() + " inodes, " + want.parameters() + ")");
                }
                if (!rec.targetPath().equals(target.toString())) {
                    throw CsiErrors.failedPrecondition("inline volume " + handle + " belongs to the pod it was made "
                            + "for and is published at " + rec.targetPath() + "; it is published at no other target");
                }
            } else {
                synchronized (admission) {
                    requireRoom();
                    rec = new InlineVolume(id, handle, want.bytes(), want.inodes(), want.parameters(),
                            target.toString(), context.get(POD_NAMESPACE), context.get(POD_NAME), context.get(POD_UID),
                            System.currentTimeMillis());
                    records.put(rec);
                }
            }
            try {
                BackingStore backing = roots.local();
                backing.createVolume(id, rec.limits(), null, EngineKind.requested(rec.parameters()));
                Path dir = backing.serve(id);
                StagedVolumes.Staged s = stageInline(rec, backing, dir);
                binder.bind(s, dir, target, readOnly, flags, mode, gid);
            } catch (IOException | VolumeException | RuntimeException e) {
                if (made) {
                    try {
                        removeInline(rec);
                    } catch (IOException | VolumeException | RuntimeException cleanup) {
                        e.addSuppressed(cleanup);
                    }
                }
                throw e;
            }
            if (made) {
                LOG.info("inline volume {} ({}): made for pod {}/{}, {} bytes, {} inodes, {}", handle, id,
                        rec.podNamespace(), rec.podName(), rec.capacityBytes(), rec.inodeLimit(), rec.parameters());
            }
            return Csi.NodePublishVolumeResponse.getDefaultInstance();
        } catch (IOException e) {
            throw CsiErrors.internal("publish inline volume " + handle + " at " + target + ": " + e.getMessage(), e);
        }
    }

    /** The inline volume's session at its staging directory: the one this process has, adopted, or mounted now. */
    private StagedVolumes.Staged stageInline(InlineVolume rec, BackingStore backing, Path dir)
            throws IOException, VolumeException {
        String id = rec.id();
        Path staging = inline.records().stagingPath(id);
        var existing = staged.get(id);
        if (existing.isEmpty()) {
            existing = adopt(id, staging);
        }
        if (existing.isPresent()) {
            if (existing.get().mount.alive()) {
                return existing.get();
            }
            LOG.warn("inline volume {} ({}): the session at {} is dead; mounting it again", rec.handle(), id, staging);
            closeQuietly(existing.get());
            staged.remove(id);
        }
        return startSession(rec.asVolume(nodeId), backing, dir, staging, false);
    }

    /** Mounts the volume's eFuse session at staging and records it as staged. */
    private StagedVolumes.Staged startSession(Volume v, BackingStore backing, Path dir, Path staging, boolean readOnly)
            throws IOException, VolumeException {
        paths.prepareStaging(staging);
        ServedLimits limits = backing.served(v.id(), v.limits());
        MountedVolume mount = mounter.mount(new MountSpec(v.id(), dir, staging, tierOf(v), writebackCacheOf(v),
                readOnly, limits));
        LOG.info("volume {}: staged at {}, engine {}, tier {}", v.id(), staging,
                backing.engineOf(v.id()).map(EngineKind::label).orElse("?"), mount.tier());
        StagedVolumes.Staged s = new StagedVolumes.Staged(v.id(), staging, readOnly, mount);
        staged.put(s);
        return s;
    }

    private static String tierOf(Volume v) {
        return VolumeParameters.effective(VolumeParameters.TIER, v.parameters(), v.mutableParameters(), "auto");
    }

    private static boolean writebackCacheOf(Volume v) {
        return Boolean.parseBoolean(VolumeParameters.effective(VolumeParameters.WRITEBACK_CACHE, v.parameters(),
                v.mutableParameters(), "false"));
    }

    /**
     * Gives the session of a volume staged on this node (or left by the last node plugin) the volume's mutable
     * parameters as they are recorded now, as far as the live session takes them, and notes what waits for the next
     * staging.
     */
    @Override
    public Optional<ModifiedSettings> apply(Volume v) throws IOException, VolumeException {
        try (var held = locks.acquire(v.id())) {
            var s = staged.get(v.id());
            if (s.isEmpty()) {
                s = adopt(v.id(), null);
            }
            if (s.isEmpty()) {
                return Optional.empty();
            }
            return Optional.of(applyTo(s.get(), v));
        }
    }

    private ModifiedSettings applyTo(StagedVolumes.Staged s, Volume v) throws IOException, VolumeException {
        ModifiedSettings m = s.mount.modify(tierOf(v), writebackCacheOf(v));
        s.waiting = m.waiting();
        LOG.info("volume {}: tier {}, writebackCache {} given to its session: serving with tier {}{}", v.id(),
                tierOf(v), writebackCacheOf(v), m.tier(), m.waiting().isEmpty() ? ""
                        : ", waiting for the next staging: " + m.waiting());
        return m;
    }

    @Override
    public List<String> waiting(String volumeId) {
        return staged.get(volumeId).map(s -> s.waiting).orElse(List.of());
    }

    /**
     * Ends an inline volume whose target is already unbound: its session, its staging directory, its data, and
     * last its record, so that whatever a failure leaves is found by the CO's retry.
     */
    private void removeInline(InlineVolume rec) throws IOException, VolumeException {
        String id = rec.id();
        Path staging = inline.records().stagingPath(id);
        var s = staged.get(id);
        if (s.isEmpty()) {
            s = adopt(id, staging);
        }
        if (s.isPresent()) {
            s.get().mount.close();
            staged.remove(id);
        }
        paths.unmountAll(staging);
        inline.records().removeStagingDir(id);
        roots.local().deleteVolume(id);
        inline.records().remove(id);
    }

    /** The record of the inline volume whose handle the CO names, if it names one. */
    private Optional<InlineVolume> inlineRecord(String handle) {
        return inline.records() == null ? Optional.empty() : inline.records().get(VolumeIds.inlineId(handle));
    }

    /** Volumes on this node, staged or inline, count against maxVolumes; RESOURCE_EXHAUSTED when none more fits. */
    private void requireRoom() throws VolumeException {
        if (maxVolumes <= 0) {
            return;
        }
        Set<String> ids = new HashSet<>(staged.ids());
        if (inline.records() != null) {
            ids.addAll(inline.records().ids());
        }
        if (ids.size() >= maxVolumes) {
            throw new VolumeException(VolumeException.Reason.RESOURCE_EXHAUSTED, "node " + nodeId + " already has "
                    + ids.size() + " volumes staged or inline, its maximum (--max-volumes)");
        }
    }

    @Override
    public void nodeUnpublishVolume(Csi.NodeUnpublishVolumeRequest req,
                                    StreamObserver<Csi.NodeUnpublishVolumeResponse> out) {
        Calls.run(out, () -> {
            String id = Calls.requireId(req.getVolumeId(), "volume_id");
            requirePresent(req.getTargetPath(), "target_path");
            if (inlineRecord(id).isPresent()) {
                return unpublishInline(id, requirePath(req.getTargetPath(), "target_path"));
            }
            if (!inline.allowed()) {
                requireVolumeShapedId(id);
            }
            // Past this point an id not shaped like ours is an inline volume's handle whose unpublish already ended:
            // its target is cleaned up like any other.
            Path target = requirePath(req.getTargetPath(), "target_path");
            try (var held = locks.acquire(id)) {
                paths.unpublish(target);
                staged.get(id).ifPresent(s -> s.publications.remove(target));
                return Csi.NodeUnpublishVolumeResponse.getDefaultInstance();
            } catch (IOException e) {
                throw CsiErrors.internal("unpublish volume " + id + " from " + target + ": " + e.getMessage(), e);
            }
        });
    }

    /**
     * NodeUnpublishVolume of an inline volume: unbound from its pod, then gone with its data. An unpublish at
     * another path than its pod's cleans that path and leaves the volume to its own.
     */
    private Csi.NodeUnpublishVolumeResponse unpublishInline(String handle, Path target) throws VolumeException {
        String id = VolumeIds.inlineId(handle);
        try (var held = locks.acquire(id)) {
            paths.unpublish(target);
            Optional<InlineVolume> rec = inline.records().get(id);
            if (rec.isPresent() && rec.get().targetPath().equals(target.toString())) {
                removeInline(rec.get());
                LOG.info("inline volume {} ({}) of pod {}/{}: deleted with its data", handle, id,
                        rec.get().podNamespace(), rec.get().podName());
            }
            return Csi.NodeUnpublishVolumeResponse.getDefaultInstance();
        } catch (IOException e) {
            throw CsiErrors.internal("unpublish inline volume " + handle + " from " + target + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void nodeGetVolumeStats(Csi.NodeGetVolumeStatsRequest req,
                                   StreamObserver<Csi.NodeGetVolumeStatsResponse> out) {
        Calls.run(out, () -> {
            String requested = Calls.requireId(req.getVolumeId(), "volume_id");
            requirePresent(req.getVolumePath(), "volume_path");
            Optional<InlineVolume> inlineVolume = inlineRecord(requested);
            String id = inlineVolume.map(InlineVolume::id).orElse(requested);
            Volume v = inlineVolume.isPresent() ? inlineVolume.get().asVolume(nodeId) : requireVolume(id);
            if (!req.getStagingTargetPath().isEmpty()) {
                requirePath(req.getStagingTargetPath(), "staging_target_path");
            }
            StagedVolumes.Staged s = stagedOrAdopted(id);
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
            if (inlineRecord(id).isPresent()) {
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
            Path path = requireServedAt(id, stagedOrAdopted(id), req.getVolumePath());
            long bytes = Math.max(required, v.capacityBytes());
            if (limit > 0 && bytes > limit) {
                throw CsiErrors.outOfRange("volume " + id + " has " + v.capacityBytes() + " bytes, above limit " + limit);
            }
            Limits limits = new Limits(bytes, Math.max(v.inodeLimit(), VolumeParameters.inodeLimit(v.parameters(),
                    bytes)));
            try (var held = locks.acquire(id)) {
                BackingStore backing = roots.of(v.backend());
                if (backing.engineOf(id).map(EngineKind::kernelEnforced).orElse(false)) {
                    backing.resizeVolume(id, limits);
                    var s = staged.get(id);
                    if (s.isPresent() && backing.served(id, limits).shownBytes() > 0) {
                        s.get().mount.resize(limits); // the size df in the volume shows
                    }
                } else {
                    // Looked up again under the lock: an unstage may have ended the session since the check.
                    var s = staged.get(id);
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
        SessionShutdown.closeAll(staged.all(), grace, false);
    }

    /**
     * Unmounts everything this process staged and published, for the shutdown of standalone, which owns its targets
     * too: all at once, within grace. A volume's targets are detached before its staging mount: a bind of the staging
     * mount keeps the FUSE connection up, so closing the session first would wait for workers that cannot end.
     * Connections still in use when the grace runs out (a file open in a detached target) are aborted.
     */
    public void unmountAll(Duration grace) {
        SessionShutdown.closeAll(staged.all(), grace, true);
    }

    public int stagedCount() {
        return staged.size();
    }

    /**
     * A volume whose session the mounter reports alive although this process has no record of it (it was
     * staged before this process started), recorded as staged where it is mounted.
     */
    private Optional<StagedVolumes.Staged> adopt(String id, Path staging) throws IOException,
            VolumeException {
        var found = mounter.adopt(id, staging);
        if (found.isEmpty()) {
            return Optional.empty();
        }
        MountedVolume m = found.get();
        StagedVolumes.Staged s = new StagedVolumes.Staged(id, m.mountPoint(), m.readOnly(), m);
        // Its publications outlived the last process too; they count for single-writer checks from now on.
        for (Path bound : paths.boundTo(m.mountPoint())) {
            s.publications.put(bound, StagedVolumes.Publication.found(paths.mountedReadOnly(bound)));
        }
        staged.put(s);
        LOG.info("volume {}: adopted its live session at {} ({})", id, m.mountPoint(), mounter.describe());
        // Parameters changed while no node plugin ran reach the session now; what waits is known again.
        Optional<Volume> recorded = VolumeIds.isVolumeId(id) ? store.volume(id) : Optional.empty();
        if (recorded.isPresent()) {
            try {
                applyTo(s, recorded.get());
            } catch (IOException | VolumeException e) {
                LOG.warn("volume {}: cannot give its adopted session the recorded parameters: {}", id, e.getMessage());
            }
        }
        return Optional.of(s);
    }

    /**
     * A volume this node serves, staged by this process or adopted from the mounter, held against other operations on
     * it until the claim closes. A lookup that fails is NOT_READY, never "not served": a group snapshot counts on it.
     */
    @Override
    public ServedVolumes.Claim claim(String id) throws IOException, VolumeException {
        OperationLocks.Held held;
        try {
            held = locks.acquire(id);
        } catch (io.grpc.StatusRuntimeException e) {
            throw new VolumeException(VolumeException.Reason.BUSY, "volume " + id + " is being staged, published or"
                    + " unstaged on node " + nodeId + ": try again");
        }
        try {
            Optional<StagedVolumes.Staged> s = staged.get(id);
            if (s.isEmpty()) {
                try {
                    s = adopt(id, VolumeIds.isInlineId(id) && inline.records() != null
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

    /** {@link #adopt} for reports: a volume that cannot be looked up now is reported as not staged. */
    private Optional<StagedVolumes.Staged> adoptQuietly(String id) {
        try {
            return adopt(id, VolumeIds.isInlineId(id) && inline.records() != null ? inline.records().stagingPath(id)
                    : null);
        } catch (IOException | VolumeException e) {
            LOG.warn("volume {}: cannot tell whether a session serves it: {}", id, e.getMessage());
            return Optional.empty();
        }
    }

    /** The volume as this node serves it: staged by this process, or adopted from the mounter; else NOT_FOUND. */
    private StagedVolumes.Staged stagedOrAdopted(String id) {
        StagedVolumes.Staged s = staged.get(id).orElse(null);
        if (s != null) {
            return s;
        }
        try (var held = locks.acquire(id)) {
            return staged.get(id).or(() -> adoptQuietly(id)).orElseThrow(() ->
                    CsiErrors.notFound("volume " + id + " is not staged on node " + nodeId));
        }
    }

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

    private static void closeQuietly(StagedVolumes.Staged s) {
        try {
            s.mount.close();
        } catch (IOException e) {
            LOG.warn("closing the session of volume {} at {}: {}", s.volumeId, s.stagingPath, e.getMessage());
        }
    }
}
