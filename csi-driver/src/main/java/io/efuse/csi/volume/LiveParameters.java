package io.efuse.csi.volume;

import java.io.IOException;
import java.util.List;
import java.util.Optional;

/**
 * Where a volume's mutable parameters (ControllerModifyVolume) reach its live session, and where what waits for
 * the next staging is known. The node service is one on its node; where the controller runs apart from the nodes,
 * the nodes apply changes as they see them in the volume's resource and report there what waits.
 */
public interface LiveParameters {
    /**
     * Applies the volume's mutable parameters to its session, as far as the session allows; empty when it is not
     * staged where this can reach.
     */
    Optional<ModifiedSettings> apply(Volume v) throws IOException, VolumeException;

    /** The mutable parameters of a volume that its staged session does not have yet, as last reported. */
    List<String> waiting(String volumeId);
}
