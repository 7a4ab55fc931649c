package io.efuse.csi.csi;

import io.efuse.csi.volume.MountedVolume;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What this node process has staged and published. The table starts empty: after a restart, volumes whose
 * sessions outlived the process are adopted from the mounter as calls name them, and leftovers that nothing
 * serves are recognised through the mount table.
 */
final class StagedVolumes {
    record Publication(boolean readOnly, long flags) {}

    static final class Staged {
        final String volumeId;
        final Path stagingPath;
        final boolean readOnly;
        final MountedVolume mount;
        final Map<Path, Publication> publications = new ConcurrentHashMap<>();

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

    Iterable<Staged> all() {
        return byVolume.values();
    }
}
