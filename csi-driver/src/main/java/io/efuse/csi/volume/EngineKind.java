package io.efuse.csi.volume;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * How a node keeps a volume's data and holds it to its size, best first: what {@code auto} picks is the first
 * one that the backing root offers.
 */
public enum EngineKind {
    /** A btrfs subvolume per volume, held to its size by btrfs quotas; snapshots are subvolume snapshots. */
    BTRFS("btrfs"),
    /** A directory with a kernel project quota (ext4 {@code quota,project}, XFS {@code prjquota}). */
    PROJECT_QUOTA("project-quota"),
    /** A sparse image file per volume holding its own ext4 or XFS, mounted through a loop device. */
    IMAGE("image"),
    /** A plain directory whose size the FUSE daemon counts and enforces itself: the last resort. */
    DAEMON("daemon");

    private final String label;

    EngineKind(String label) {
        this.label = label;
    }

    public String label() {
        return label;
    }

    /** Whether the kernel enforces the volume's size, so that the daemon need not and passthrough stays on. */
    public boolean kernelEnforced() {
        return this != DAEMON;
    }

    /** The StorageClass parameter that asks for an engine ({@code auto}, or absent, for the node's choice). */
    public static final String PARAMETER = "engine";

    /** The engine {@code parameters} ask for; null for the node's choice. */
    public static EngineKind requested(java.util.Map<String, String> parameters) {
        String value = parameters.get(PARAMETER);
        return value == null || value.isEmpty() || value.equalsIgnoreCase("auto") ? null : parse(value);
    }

    public static EngineKind parse(String value) {
        for (EngineKind k : values()) {
            if (k.label.equals(value.toLowerCase(Locale.ROOT))) {
                return k;
            }
        }
        throw new IllegalArgumentException("engine must be one of " + labels() + ", not '" + value + "'");
    }

    public static String labels() {
        return Arrays.stream(values()).map(EngineKind::label).collect(Collectors.joining("|"));
    }
}
