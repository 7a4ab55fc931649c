package io.efuse.csi.metrics;

import io.efuse.csi.bpf.FuseMonitor;
import io.efuse.csi.bpf.RingBufferPoller;
import io.efuse.csi.bpf.SlowRequest;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the monitor's slow-request ring buffer: counts slow requests per volume and operation and logs them, at
 * most {@code logsPerMinute} lines a minute so that a stalled backing store cannot flood the log.
 */
public final class SlowRequestLog implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(SlowRequestLog.class);

    private final FuseMonitor monitor;
    private final RingBufferPoller poller;
    private final Counter slow;
    private final VolumeDirectory volumes;
    private final int logsPerMinute;
    private final AtomicLong windowStart = new AtomicLong();
    private final AtomicLong loggedInWindow = new AtomicLong();

    public SlowRequestLog(FuseMonitor monitor, Duration threshold, VolumeDirectory volumes, MetricsRegistry registry,
            int logsPerMinute) {
        this.monitor = monitor;
        this.volumes = volumes;
        this.logsPerMinute = logsPerMinute;
        this.slow = registry.counter("efuse_fuse_slow_requests_total",
                "FUSE requests at least as slow as the monitor's threshold, by volume and operation", "volume", "op");
        monitor.setSlowThreshold(threshold);
        this.poller = monitor.pollSlowRequests(this::record);
    }

    private void record(SlowRequest r) {
        volumes.byConnection(r.connection()).ifPresent(v -> {
            slow.inc(v.volumeId(), r.opcodeName());
            long now = System.nanoTime();
            long start = windowStart.get();
            if (now - start > 60_000_000_000L && windowStart.compareAndSet(start, now)) {
                loggedInWindow.set(0);
            }
            if (loggedInWindow.incrementAndGet() <= logsPerMinute) {
                LOG.warn("slow FUSE request on volume {}: {} took {} ms (error {}, pid {}, request {})",
                        v.volumeId(), r.opcodeName(), String.format("%.1f", r.latencyNs() / 1e6), r.error(), r.pid(),
                        r.unique());
            }
        });
    }

    /** Stops reading and turns the threshold off: with no reader the programs would only fill the ring buffer. */
    @Override
    public void close() {
        poller.close();
        try {
            monitor.setSlowThreshold(Duration.ZERO);
        } catch (RuntimeException e) {
            LOG.warn("turning the slow-request threshold off: {}", e.getMessage());
        }
    }
}
