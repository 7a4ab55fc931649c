package io.efuse.csi.fs;

/** Whether a volume uses the in-kernel cache of the efuse tier (an eBPF program answering from maps). */
public enum KernelCacheMode {
    /** Never attach a program: every request reaches the daemon. */
    OFF,
    /** Attach the cache program when the kernel offers the eFuse hook in INIT; otherwise run without. */
    AUTO;

    public static KernelCacheMode parse(String s) {
        try {
            return valueOf(s.trim().toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown kernel cache mode '" + s + "': expected off or auto");
        }
    }

    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
