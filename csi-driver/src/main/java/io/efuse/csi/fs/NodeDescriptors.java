package io.efuse.csi.fs;

import io.efuse.csi.sys.Syscalls;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The node descriptors every volume of this process holds, against one budget. A daemon serves many volumes from
 * one descriptor table, so a per-volume budget would let enough busy volumes exhaust it together (EMFILE on the
 * next open, create or lookup of any of them); past this budget new files are kept by file handle instead.
 */
final class NodeDescriptors {
    private static final AtomicInteger HELD = new AtomicInteger();
    private static volatile int budget = 256;

    private NodeDescriptors() {}

    /**
     * Sets the budget to half of the process's descriptor limit (the rest is for open files); the system property
     * efuse.nodeDescriptors overrides it (tests use a small budget). Called by every new volume, as the limit may
     * have been raised since the last; never on the request path, which only compares.
     */
    static void refreshBudget() {
        String forced = System.getProperty("efuse.nodeDescriptors");
        if (forced != null) {
            budget = Integer.parseInt(forced);
            return;
        }
        long limit = Syscalls.fileLimit();
        budget = (int) Math.max(256, Math.min(Integer.MAX_VALUE, limit / 2));
    }

    static boolean exhausted() {
        return HELD.get() >= budget;
    }

    static void held(int n) {
        HELD.addAndGet(n);
    }
}
