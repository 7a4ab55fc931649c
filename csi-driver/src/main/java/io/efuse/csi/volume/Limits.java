package io.efuse.csi.volume;

/** The size a volume is held to: bytes and inodes, 0 meaning no limit. */
public record Limits(long bytes, long inodes) {
    public static final Limits NONE = new Limits(0, 0);

    public Limits {
        if (bytes < 0 || inodes < 0) {
            throw new IllegalArgumentException("limits cannot be negative: " + bytes + " bytes, " + inodes + " inodes");
        }
    }
}
