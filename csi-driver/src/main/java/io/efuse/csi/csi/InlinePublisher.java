package io.efuse.csi.csi;

import static io.efuse.csi.csi.NodeRequests.mountFlags;
import static io.efuse.csi.csi.NodeRequests.parseGroup;
import static io.efuse.csi.csi.NodeRequests.requireCapability;
import static io.efuse.csi.csi.NodeRequests.requirePath;
import static io.efuse.csi.csi.NodeRequests.requirePresent;

import csi.v1.Csi;
import csi.v1.Csi.VolumeCapability;
import io.efuse.csi.sys.LinuxConstants;
import io.efuse.csi.volume.Backend;
import io.efuse.csi.volume.BackingRoots;
import io.efuse.csi.volume.BackingStore;
import io.efuse.csi.volume.EngineKind;
import io.efuse.csi.volume.InlineVolume;
import io.efuse.csi.volume.InlineVolumes;
import io.efuse.csi.volume.NodePaths;
import io.efuse.csi.volume.VolumeException;
import io.efuse.csi.volume.VolumeIds;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * NodePublishVolume and NodeUnpublishVolume of CSI ephemeral inline volumes: made from the pod's volumeAttributes,
 * staged at a directory of the node's own and published in one call, and undone, data and all, in one call.
 */
final class InlinePublisher {
    private static final Logger LOG = LoggerFactory.getLogger(InlinePublisher.class);
    private final String nodeId;
    private final BackingRoots roots;
    private final NodePaths paths;
    private final TargetBinder binder;
    private final NodeSessions sessions;
    private final InlineOptions inline;
    /** Held while a new inline volume is counted against maxVolumes and recorded: two cannot take one last place. */
    private final Object admission = new Object();

    InlinePublisher(String nodeId, BackingRoots roots, NodePaths paths, TargetBinder binder, NodeSessions sessions,
                    InlineOptions inline) {
        this.nodeId = nodeId;
        this.roots = roots;
        this.paths = paths;
        this.binder = binder;
        this.sessions = sessions;
        this.inline = inline;
    }

    /**
     * NodePublishVolume of an inline volume: the first call makes the volume from the pod's volumeAttributes (its
     * record first, then its data directory), mounts its session at the node's own staging directory and binds it at
     * the target; a repeated call finds each step done (or redoes the one a crash or a restart undid). A first call
     * that fails leaves nothing: kubelet does not unpublish a volume whose publish failed for good.
     */
    Csi.NodePublishVolumeResponse publish(Csi.NodePublishVolumeRequest req) throws VolumeException {
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
        try (var held = sessions.locks.acquire(id)) {
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
                    sessions.requireRoom();
                    rec = new InlineVolume(id, handle, want.bytes(), want.inodes(), want.parameters(),
                            target.toString(), context.get(NodeService.POD_NAMESPACE), context.get(NodeService.POD_NAME), context.get(NodeService.POD_UID),
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

    private StagedVolumes.Staged stageInline(InlineVolume rec, BackingStore backing, Path dir)
            throws IOException, VolumeException {
        String id = rec.id();
        Path staging = inline.records().stagingPath(id);
        var existing = sessions.staged.get(id);
        if (existing.isEmpty()) {
            existing = sessions.adopt(id, staging);
        }
        if (existing.isPresent()) {
            if (existing.get().mount.alive()) {
                return existing.get();
            }
            LOG.warn("inline volume {} ({}): the session at {} is dead; mounting it again", rec.handle(), id, staging);
            sessions.closeQuietly(existing.get());
            sessions.staged.remove(id);
        }
        return sessions.startSession(rec.asVolume(nodeId), backing, dir, staging, false);
    }

    /**
     * Ends an inline volume whose target is already unbound: its session, its staging directory, its data, and
     * last its record, so that whatever a failure leaves is found by the CO's retry.
     */
    private void removeInline(InlineVolume rec) throws IOException, VolumeException {
        String id = rec.id();
        Path staging = inline.records().stagingPath(id);
        var s = sessions.staged.get(id);
        if (s.isEmpty()) {
            s = sessions.adopt(id, staging);
        }
        if (s.isPresent()) {
            s.get().mount.close();
            sessions.staged.remove(id);
        }
        paths.unmountAll(staging);
        inline.records().removeStagingDir(id);
        roots.local().deleteVolume(id);
        inline.records().remove(id);
    }

    Optional<InlineVolume> record(String handle) {
        return inline.records() == null ? Optional.empty() : inline.records().get(VolumeIds.inlineId(handle));
    }

    /**
     * NodeUnpublishVolume of an inline volume: unbound from its pod, then gone with its data. An unpublish at
     * another path than its pod's cleans that path and leaves the volume to its own.
     */
    Csi.NodeUnpublishVolumeResponse unpublish(String handle, Path target) throws VolumeException {
        String id = VolumeIds.inlineId(handle);
        try (var held = sessions.locks.acquire(id)) {
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
}
