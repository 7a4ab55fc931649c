package io.efuse.csi.volume;

import java.io.IOException;
import java.util.Optional;

/** The volumes this node serves now, asked for their live mounts to hold back their writes (a group snapshot). */
public interface ServedVolumes {
    /**
     * Volume {@code id} as this node serves it, claimed so that nothing stages, unstages or publishes it until the
     * claim is closed. {@link VolumeException.Reason#BUSY} while such an operation runs, and NOT_READY when whether
     * it is served cannot be told now: a caller that holds back writes must not take an unknown for "nothing writes
     * it".
     */
    Claim claim(String id) throws IOException, VolumeException;

    /** A claimed volume: its live mount on this node, empty when nothing serves it here. */
    interface Claim extends AutoCloseable {
        Optional<MountedVolume> mount();

        @Override
        void close();
    }
}
