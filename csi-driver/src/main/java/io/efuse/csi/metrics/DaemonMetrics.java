package io.efuse.csi.metrics;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** The FUSE daemon's own figures: sessions, their worker threads and passthrough-opened files. */
public final class DaemonMetrics {

    private final Map<String, SessionFigures> sessions = new ConcurrentHashMap<>();
    private final Gauge workers;
    private final Gauge passthroughFiles;

    public DaemonMetrics(MetricsRegistry registry) {
        registry.gauge("efuse_fuse_sessions", "FUSE sessions this process serves").track(sessions::size);
        workers = registry.gauge("efuse_fuse_session_workers", "Worker threads of a FUSE session", "volume");
        passthroughFiles = registry.gauge("efuse_fuse_passthrough_open_files",
                "Files of a volume open with FUSE passthrough", "volume");
    }

    /** Reports a session until the returned handle is closed (when the session ends). */
    public AutoCloseable track(String volumeId, SessionFigures figures) {
        if (sessions.putIfAbsent(volumeId, figures) != null) {
            throw new IllegalStateException("a session of volume " + volumeId + " is already reported");
        }
        workers.track(figures::workers, volumeId);
        passthroughFiles.track(figures::passthroughOpenFiles, volumeId);
        return () -> {
            if (sessions.remove(volumeId, figures)) {
                workers.remove(volumeId);
                passthroughFiles.remove(volumeId);
            }
        };
    }
}
