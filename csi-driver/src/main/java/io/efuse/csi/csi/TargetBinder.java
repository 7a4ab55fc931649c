package io.efuse.csi.csi;

import csi.v1.Csi.VolumeCapability;
import io.efuse.csi.volume.GroupOwnership;
import io.efuse.csi.volume.NodePaths;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Set;

/** NodePublishVolume's decision at a target: bind the staged volume there, confirm it is bound so, or refuse. */
final class TargetBinder {
    private final NodePaths paths;

    TargetBinder(NodePaths paths) {
        this.paths = paths;
    }

    /**
     * Binds the staged volume at target as asked, or confirms that it is bound so; the spec's answers for a second
     * publication at the same target or another one (docs/csi.md, access modes).
     */
    void bind(StagedVolumes.Staged s, Path dir, Path target, boolean readOnly, long flags,
                        VolumeCapability.AccessMode.Mode mode, int gid) throws IOException {
        String id = s.volumeId;
        Path staging = s.stagingPath;
        StagedVolumes.Publication want = new StagedVolumes.Publication(readOnly, flags, mode);
        StagedVolumes.Publication have = s.publications.get(target);
        Set<Path> bound = paths.boundTo(staging);
        if (bound.contains(target)) {
            if (have == null || have.found()) {
                // Published before this process started (its record of publications died with the last
                // one): what the mount shows is all there is to compare.
                if (paths.mountedReadOnly(target) != readOnly) {
                    throw CsiErrors.alreadyExists("volume " + id + " is published at " + target
                            + (readOnly ? " read-write" : " read-only"));
                }
                s.publications.put(target, want);
            } else if (!have.equals(want)) {
                throw CsiErrors.alreadyExists("volume " + id + " is published at " + target
                        + " with other options (" + have.mode() + ", read-only " + have.readOnly() + ")");
            }
            return;
        }
        // Whatever the record says, nothing of this volume is at the target any more: publish anew.
        s.publications.remove(target);
        checkSingleWriter(s, target, mode, bound);
        if (gid >= 0) {
            GroupOwnership.apply(dir, gid);
        }
        paths.bind(staging, target, readOnly, flags);
        s.publications.put(target, want);
    }

    /**
     * The spec's table for a second NodePublishVolume at another target: SINGLE_NODE_SINGLE_WRITER allows one
     * target on the node, so a publication elsewhere refuses it, and a SINGLE_NODE_SINGLE_WRITER publication refuses
     * any other; every other mode may be published at many targets. Only targets still bound count, so a target
     * that vanished without NodeUnpublishVolume does not hold the volume forever.
     */
    private static void checkSingleWriter(StagedVolumes.Staged s, Path target, VolumeCapability.AccessMode.Mode mode,
                                          Set<Path> bound) {
        for (var e : s.publications.entrySet()) {
            Path other = e.getKey();
            if (other.equals(target) || !bound.contains(other)) {
                continue;
            }
            if (mode == VolumeCapability.AccessMode.Mode.SINGLE_NODE_SINGLE_WRITER
                    || e.getValue().mode() == VolumeCapability.AccessMode.Mode.SINGLE_NODE_SINGLE_WRITER) {
                throw CsiErrors.failedPrecondition("volume " + s.volumeId + " is published at " + other + " ("
                        + (e.getValue().found() ? "before this process started" : e.getValue().mode()) + "); "
                        + VolumeCapability.AccessMode.Mode.SINGLE_NODE_SINGLE_WRITER
                        + " allows one target on a node");
            }
        }
    }
}
