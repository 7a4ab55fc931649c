package io.efuse.csi.csi;

import csi.v1.Csi.VolumeCapability.AccessMode;
import io.efuse.csi.volume.MountedVolume;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What this node process has staged and published. The table starts empty: after a restart, volumes whose
 * sessions outlived the process are adopted from the mounter as calls name them, and leftovers that nothing
 * serves are recognised through the mount table.
 */
final class StagedVolumes {
    /**
     * One target the volume is bound at, with what it was published as. {@code mode} is null for a publication
     * found in the mount table after a restart: its binding is known, what it was asked for is not.
     */
    record Publication(boolean readOnly, long flags, AccessMode.Mode mode) {
        static Publication found(boolean readOnly) {
            return new Publication(readOnly, 0, null);
        }

        boolean found() {
            return mode == null;
        }
    }

    static final class Staged {
        final String volumeId;
        final Path stagingPath;
        final boolean readOnly;
        final MountedVolume mount;
        final Map<Path, Publication> publications = new ConcurrentHashMap<>();
        /** The mutable parameters its session could not take when they were last applied: the next staging does. */
        volatile List<String> waiting = List.of();
        /**
         * The tier and write-back cache its session was last given (at staging or by a change), "tier/true";
         * null when not known (adopted from an earlier process).
         */
        volatile String given;

        Staged(String volumeId, Path stagingPath, boolean readOnly, MountedVolume mount) {
            this.volumeId = volumeId;
            this.stagingPath = stagingPath;
            this.readOnly = readOnly;
            this.mount = mount;
        }
    }

    private final Map<String, Staged> byVolume = new ConcurrentHashMap<>();

    Optional<Staged> get(String volumeId) {
        return Optional.ofNullable(byVolume.get(volumeId));
    }

    void put(Staged s) {
        byVolume.put(s.volumeId, s);
    }

    void remove(String volumeId) {
        byVolume.remove(volumeId);
    }

    int size() {
        return byVolume.size();
    }

    java.util.Set<String> ids() {
        return java.util.Set.copyOf(byVolume.keySet());
    }

    Iterable<Staged> all() {
        return byVolume.values();
    }
}
