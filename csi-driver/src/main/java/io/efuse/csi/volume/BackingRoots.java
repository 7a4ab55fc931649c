package io.efuse.csi.volume;

/** The backing stores of one process: the node-local root and, where every node mounts one, the shared root. */
public record BackingRoots(BackingStore local, BackingStore shared) {
    public BackingStore of(Backend backend) throws VolumeException {
        if (backend == Backend.SHARED) {
            if (shared == null) {
                throw new VolumeException(VolumeException.Reason.INVALID,
                        "the shared backend is not configured on this driver (--shared-root)");
            }
            return shared;
        }
        return local;
    }
}
