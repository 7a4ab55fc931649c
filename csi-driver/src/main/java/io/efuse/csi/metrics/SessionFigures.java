package io.efuse.csi.metrics;

import io.efuse.csi.bpf.EfuseCacheCounters;

/** What the daemon reports of one FUSE session, read at scrape time. */
public interface SessionFigures {

    /** Worker threads serving the session now. */
    int workers();

    /** Files of the session opened with FUSE passthrough (their I/O bypasses the daemon). */
    long passthroughOpenFiles();

    /** Requests of one opcode (its FUSE name, e.g. LOOKUP) that reached the daemon since the mount. */
    default long daemonRequests(String opcode) {
        return 0;
    }

    /** What the session's in-kernel cache answered since the mount (zero without one). */
    default EfuseCacheCounters kernelCacheAnswers() {
        return EfuseCacheCounters.NONE;
    }
}
