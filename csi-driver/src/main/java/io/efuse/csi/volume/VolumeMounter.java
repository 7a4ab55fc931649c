package io.efuse.csi.volume;

import java.io.IOException;

/**
 * Serves a volume's backing directory at a mount point. The node service stages volumes through this seam; the
 * production implementation starts an eFuse session, tests may bind-mount instead.
 */
public interface VolumeMounter {
    MountedVolume mount(MountSpec spec) throws IOException;

    /** A short name of what serves the mounts (for logs and Probe). */
    String describe();
}
