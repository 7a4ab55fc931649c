package io.efuse.csi.fs;

/** The data path of a mount: file data through the daemon, or straight to the backing file. */
public enum Tier {
    /** Passthrough when the kernel offers it, classic otherwise. */
    AUTO,
    /** Every read and write goes through the daemon over /dev/fuse. */
    CLASSIC,
    /** Regular files are opened with FUSE passthrough: their data never visits the daemon. */
    PASSTHROUGH;

    public static Tier parse(String s) {
        try {
            return valueOf(s.trim().toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown tier '" + s + "': expected auto, classic or passthrough");
        }
    }

    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
