package io.efuse.csi.metrics;

import io.efuse.csi.bpf.EfuseCacheCounters;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** The FUSE daemon's own figures: sessions, their worker threads and passthrough-opened files. */
public final class DaemonMetrics {

    private final Map<String, SessionFigures> sessions = new ConcurrentHashMap<>();
    private final Gauge workers;
    private final Gauge passthroughFiles;
    private final Gauge daemonRequests;
    private final Gauge kernelAnswers;
    /** The operations the in-kernel cache can answer: their upcalls and in-kernel answers side by side. */
    private static final List<String> CACHED_OPS = List.of("LOOKUP", "GETATTR", "READ");
    private static final List<String> OUTCOMES = List.of("hit", "negative", "miss", "stale");

    public DaemonMetrics(MetricsRegistry registry) {
        registry.gauge("efuse_fuse_sessions", "FUSE sessions this process serves").track(sessions::size);
        workers = registry.gauge("efuse_fuse_session_workers", "Worker threads of a FUSE session", "volume");
        passthroughFiles = registry.gauge("efuse_fuse_passthrough_open_files",
                "Files of a volume open with FUSE passthrough", "volume");
        daemonRequests = registry.gauge("efuse_fuse_daemon_requests",
                "Requests of a volume that reached the daemon since the mount, by opcode", "volume", "op");
        kernelAnswers = registry.gauge("efuse_kernel_cache_requests",
                "Requests of a volume offered to its in-kernel cache since the mount, by opcode and outcome (hit:"
                        + " answered in the kernel, negative: of which negative LOOKUPs, miss and stale: sent to the"
                        + " daemon)", "volume", "op", "outcome");
    }

    private static double outcome(EfuseCacheCounters c, String op, String outcome) {
        EfuseCacheCounters.Outcomes o = switch (op) {
            case "LOOKUP" -> c.lookup();
            case "GETATTR" -> c.getattr();
            default -> c.read();
        };
        return switch (outcome) {
            case "hit" -> o.hit();
            case "negative" -> o.negative();
            case "miss" -> o.miss();
            default -> o.stale();
        };
    }

    /** Reports a session until the returned handle is closed (when the session ends). */
    public AutoCloseable track(String volumeId, SessionFigures figures) {
        if (sessions.putIfAbsent(volumeId, figures) != null) {
            throw new IllegalStateException("a session of volume " + volumeId + " is already reported");
        }
        workers.track(figures::workers, volumeId);
        passthroughFiles.track(figures::passthroughOpenFiles, volumeId);
        for (String op : CACHED_OPS) {
            daemonRequests.track(() -> figures.daemonRequests(op), volumeId, op);
            for (String outcome : OUTCOMES) {
                kernelAnswers.track(() -> outcome(figures.kernelCacheAnswers(), op, outcome), volumeId, op, outcome);
            }
        }
        return () -> {
            if (sessions.remove(volumeId, figures)) {
                workers.remove(volumeId);
                passthroughFiles.remove(volumeId);
                for (String op : CACHED_OPS) {
                    daemonRequests.remove(volumeId, op);
                    for (String outcome : OUTCOMES) {
                        kernelAnswers.remove(volumeId, op, outcome);
                    }
                }
            }
        };
    }
}
