package io.efuse.csi.metrics;

/** What the daemon reports of one FUSE session, read at scrape time. */
public interface SessionFigures {

    /** Worker threads serving the session now. */
    int workers();

    /** Files of the session opened with FUSE passthrough (their I/O bypasses the daemon). */
    long passthroughOpenFiles();
}
