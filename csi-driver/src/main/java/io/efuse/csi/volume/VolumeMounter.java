package io.efuse.csi.volume;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Serves a volume's backing directory at a mount point. The node service stages volumes through this seam; the
 * production implementations start an eFuse session in this process or have the fd keeper's daemon start one,
 * tests may bind-mount instead.
 */
public interface VolumeMounter {
    MountedVolume mount(MountSpec spec) throws IOException, VolumeException;

    /**
     * A volume that is still served although this process did not mount it (its sessions outlive the node
     * plugin), so that staging it again takes it over instead of mounting it twice. {@code mountPoint} is where
     * the caller expects it, or null when the caller does not know; a mounter may wait a bounded time for
     * whatever serves the volume to report, and throws {@link VolumeException.Reason#NOT_READY} if it cannot
     * tell. Sessions that die with this process are never found.
     */
    default Optional<MountedVolume> adopt(String volumeId, Path mountPoint) throws IOException, VolumeException {
        return Optional.empty();
    }

    /** A short name of what serves the mounts (for logs and Probe). */
    String describe();
}
