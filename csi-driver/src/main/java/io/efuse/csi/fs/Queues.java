package io.efuse.csi.fs;

/** How requests travel from the kernel to the daemon; independent of the {@link Tier} (the data path). */
public enum Queues {
    /** Per-CPU io_uring queues when the kernel has FUSE-over-io_uring switched on, /dev/fuse otherwise. */
    AUTO,
    /** The shared /dev/fuse request queue, read by the worker threads. */
    DEV,
    /** Per-CPU io_uring queues (Linux 6.14+, fuse enable_uring=Y); the mount fails if they cannot run. */
    URING;

    public static Queues parse(String s) {
        try {
            return valueOf(s.trim().toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown queues '" + s + "': expected auto, dev or uring");
        }
    }

    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
