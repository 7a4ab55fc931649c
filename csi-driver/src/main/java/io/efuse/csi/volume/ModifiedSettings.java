package io.efuse.csi.volume;

import io.efuse.csi.fs.LiveChange;
import java.util.ArrayList;
import java.util.List;

/**
 * What new mutable parameters (ControllerModifyVolume) did to a staged volume's live session.
 *
 * @param tier the tier files opened from now on are served with (as {@link MountedVolume#tier})
 * @param waiting the parameters, by their StorageClass names, that the live session cannot take and that the next
 *     staging applies; empty when all of them are in effect
 */
public record ModifiedSettings(String tier, List<String> waiting) {
    public static final String TIER = "tier";
    public static final String WRITEBACK_CACHE = "writebackCache";

    public ModifiedSettings {
        waiting = List.copyOf(waiting);
    }

    static ModifiedSettings of(LiveChange c) {
        List<String> waiting = new ArrayList<>();
        if (c.tierWaits()) {
            waiting.add(TIER);
        }
        if (c.writebackCacheWaits()) {
            waiting.add(WRITEBACK_CACHE);
        }
        return new ModifiedSettings(c.tier().label(), waiting);
    }
}
