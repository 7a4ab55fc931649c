package io.efuse.csi.volume;

import java.util.Locale;

/** Where a volume's data lives. */
public enum Backend {
    /** A directory on one node's disk: the volume is reachable from that node only. */
    LOCAL,
    /** A directory that every node has mounted (NFS, CephFS…): no topology, many nodes may use it at once. */
    SHARED;

    public static Backend parse(String value) {
        if (value == null || value.isEmpty()) {
            return LOCAL;
        }
        return switch (value.toLowerCase(Locale.ROOT)) {
            case "local" -> LOCAL;
            case "shared" -> SHARED;
            default -> throw new IllegalArgumentException("backend must be local or shared, not '" + value + "'");
        };
    }

    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
