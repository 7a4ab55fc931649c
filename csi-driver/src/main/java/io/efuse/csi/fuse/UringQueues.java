package io.efuse.csi.fuse;

import java.nio.file.Path;

/**
 * Whether a session serves requests over FUSE-over-io_uring (one queue per CPU) besides /dev/fuse.
 *
 * @param want negotiate FUSE_OVER_IO_URING if the kernel allows it
 * @param required fail the mount instead of falling back to /dev/fuse
 * @param entriesPerQueue ring entries registered per queue: requests a queue can hold at once
 * @param enableSwitch the fuse module's enable_uring parameter, read to tell whether the kernel may
 *     offer io_uring at all (a seam: tests point it elsewhere)
 */
public record UringQueues(boolean want, boolean required, int entriesPerQueue, Path enableSwitch) {
    public static final Path ENABLE_URING = Path.of("/sys/module/fuse/parameters/enable_uring");
    public static final int DEFAULT_ENTRIES = 4;

    /** Serve over /dev/fuse only. */
    public static final UringQueues OFF = new UringQueues(false, false, DEFAULT_ENTRIES, ENABLE_URING);

    public UringQueues {
        if (required && !want) {
            throw new IllegalArgumentException("io_uring cannot be required without being wanted");
        }
        if (entriesPerQueue < 1 || entriesPerQueue > 64) {
            throw new IllegalArgumentException("entries per queue must be between 1 and 64, not " + entriesPerQueue);
        }
    }

    public static UringQueues auto() {
        return new UringQueues(true, false, DEFAULT_ENTRIES, ENABLE_URING);
    }

    public static UringQueues mandatory() {
        return new UringQueues(true, true, DEFAULT_ENTRIES, ENABLE_URING);
    }

    public UringQueues withEnableSwitch(Path p) {
        return new UringQueues(want, required, entriesPerQueue, p);
    }
}
