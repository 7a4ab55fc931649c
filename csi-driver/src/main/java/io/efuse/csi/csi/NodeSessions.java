package io.efuse.csi.csi;

import io.efuse.csi.volume.BackingStore;
import io.efuse.csi.volume.EngineKind;
import io.efuse.csi.volume.InlineVolumes;
import io.efuse.csi.volume.ModifiedSettings;
import io.efuse.csi.volume.MountSpec;
import io.efuse.csi.volume.MountedVolume;
import io.efuse.csi.volume.NodePaths;
import io.efuse.csi.volume.ServedLimits;
import io.efuse.csi.volume.Volume;
import io.efuse.csi.volume.VolumeException;
import io.efuse.csi.volume.VolumeIds;
import io.efuse.csi.volume.VolumeMounter;
import io.efuse.csi.volume.VolumeStore;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The sessions of the volumes this node serves, as the Node service and inline volumes share them: what this
 * process staged, what it adopts from the mounter after a restart, a new session at a staging path, and the
 * mutable parameters given to a session. Callers hold the volume's lock from {@link #locks}.
 */
final class NodeSessions {
    private static final Logger LOG = LoggerFactory.getLogger(NodeSessions.class);
    final OperationLocks locks = new OperationLocks();
    final StagedVolumes staged = new StagedVolumes();
    private final String nodeId;
    private final long maxVolumes;
    private final VolumeStore store;
    private final VolumeMounter mounter;
    private final NodePaths paths;
    /** null where this node makes no inline volumes */
    private final InlineVolumes inlineRecords;

    NodeSessions(String nodeId, long maxVolumes, VolumeStore store, VolumeMounter mounter, NodePaths paths,
                 InlineVolumes inlineRecords) {
        this.nodeId = nodeId;
        this.maxVolumes = maxVolumes;
        this.store = store;
        this.mounter = mounter;
        this.paths = paths;
        this.inlineRecords = inlineRecords;
    }

    /**
     * A volume whose session the mounter reports alive although this process has no record of it (it was
     * staged before this process started), recorded as staged where it is mounted.
     */
    Optional<StagedVolumes.Staged> adopt(String id, Path staging) throws IOException,
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

    Optional<StagedVolumes.Staged> adoptQuietly(String id) {
        try {
            return adopt(id, VolumeIds.isInlineId(id) && inlineRecords != null ? inlineRecords.stagingPath(id)
                    : null);
        } catch (IOException | VolumeException e) {
            LOG.warn("volume {}: cannot tell whether a session serves it: {}", id, e.getMessage());
            return Optional.empty();
        }
    }

    StagedVolumes.Staged stagedOrAdopted(String id) {
        StagedVolumes.Staged s = staged.get(id).orElse(null);
        if (s != null) {
            return s;
        }
        try (var held = locks.acquire(id)) {
            return staged.get(id).or(() -> adoptQuietly(id)).orElseThrow(() ->
                    CsiErrors.notFound("volume " + id + " is not staged on node " + nodeId));
        }
    }

    StagedVolumes.Staged startSession(Volume v, BackingStore backing, Path dir, Path staging, boolean readOnly)
            throws IOException, VolumeException {
        paths.prepareStaging(staging);
        ServedLimits limits = backing.served(v.id(), v.limits());
        MountedVolume mount = mounter.mount(new MountSpec(v.id(), dir, staging, tierOf(v), writebackCacheOf(v),
                readOnly, limits));
        LOG.info("volume {}: staged at {}, engine {}, tier {}", v.id(), staging,
                backing.engineOf(v.id()).map(EngineKind::label).orElse("?"), mount.tier());
        StagedVolumes.Staged s = new StagedVolumes.Staged(v.id(), staging, readOnly, mount);
        s.given = given(v);
        staged.put(s);
        return s;
    }

    ModifiedSettings applyTo(StagedVolumes.Staged s, Volume v) throws IOException, VolumeException {
        ModifiedSettings m = s.mount.modify(tierOf(v), writebackCacheOf(v));
        s.waiting = m.waiting();
        s.given = given(v);
        LOG.info("volume {}: tier {}, writebackCache {} given to its session: serving with tier {}{}", v.id(),
                tierOf(v), writebackCacheOf(v), m.tier(), m.waiting().isEmpty() ? ""
                        : ", waiting for the next staging: " + m.waiting());
        return m;
    }

    /** What a session is given of v's mutable parameters, to tell whether a change brings anything new. */
    static String given(Volume v) {
        return tierOf(v) + "/" + writebackCacheOf(v);
    }

    static String tierOf(Volume v) {
        return VolumeParameters.effective(VolumeParameters.TIER, v.parameters(), v.mutableParameters(), "auto");
    }

    static boolean writebackCacheOf(Volume v) {
        return Boolean.parseBoolean(VolumeParameters.effective(VolumeParameters.WRITEBACK_CACHE, v.parameters(),
                v.mutableParameters(), "false"));
    }

    void requireRoom() throws VolumeException {
        if (maxVolumes <= 0) {
            return;
        }
        Set<String> ids = new HashSet<>(staged.ids());
        if (inlineRecords != null) {
            ids.addAll(inlineRecords.ids());
        }
        if (ids.size() >= maxVolumes) {
            throw new VolumeException(VolumeException.Reason.RESOURCE_EXHAUSTED, "node " + nodeId + " already has "
                    + ids.size() + " volumes staged or inline, its maximum (--max-volumes)");
        }
    }

    static void closeQuietly(StagedVolumes.Staged s) {
        try {
            s.mount.close();
        } catch (IOException e) {
            LOG.warn("closing the session of volume {} at {}: {}", s.volumeId, s.stagingPath, e.getMessage());
        }
    }
}
