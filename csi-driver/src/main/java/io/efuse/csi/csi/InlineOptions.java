package io.efuse.csi.csi;

import io.efuse.csi.volume.InlineVolumes;

/**
 * What a node does with CSI ephemeral inline volumes. {@code records} are kept whether or not new ones are
 * {@code allowed}, so that volumes made before the switch was turned off are still deleted when their pods go;
 * null only where the node has no state directory (tests). {@code maxBytes} bounds one volume's size, 0 for no bound.
 */
public record InlineOptions(boolean allowed, InlineVolumes records, long maxBytes) {
    public InlineOptions {
        if (allowed && records == null) {
            throw new IllegalArgumentException("inline volumes need a state directory for their records");
        }
        if (maxBytes < 0) {
            throw new IllegalArgumentException("the bound of an inline volume's size cannot be negative: " + maxBytes);
        }
    }

    public static InlineOptions none() {
        return new InlineOptions(false, null, 0);
    }
}
