package io.efuse.csi.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class MetricsRegistryTest {

    @Test
    void writesCountersGaugesAndHistogramsInTheTextFormat() {
        MetricsRegistry r = new MetricsRegistry();
        Counter c = r.counter("x_requests_total", "Requests", "method");
        c.inc("a");
        c.add(2, "a");
        Gauge g = r.gauge("x_open", "Open things", "kind");
        g.set(5, "quote\"back\\slash\nnewline");
        Histogram h = r.histogram("x_seconds", "Durations", new double[] {0.1, 1}, "m");
        h.observe(0.05, "q");
        h.observe(0.5, "q");
        h.observe(3, "q");

        String text = r.scrape();
        assertTrue(text.contains("# HELP x_requests_total Requests\n# TYPE x_requests_total counter\n"), text);
        assertTrue(text.contains("x_requests_total{method=\"a\"} 3\n"), text);
        assertTrue(text.contains("x_open{kind=\"quote\\\"back\\\\slash\\nnewline\"} 5\n"), text);
        assertTrue(text.contains("x_seconds_bucket{m=\"q\",le=\"0.1\"} 1\n"), text);
        assertTrue(text.contains("x_seconds_bucket{m=\"q\",le=\"1\"} 2\n"), text);
        assertTrue(text.contains("x_seconds_bucket{m=\"q\",le=\"+Inf\"} 3\n"), text);
        assertTrue(text.contains("x_seconds_sum{m=\"q\"} 3.55\n"), text);
        assertTrue(text.contains("x_seconds_count{m=\"q\"} 3\n"), text);
    }

    @Test
    void refusesBadNamesDuplicateFamiliesWrongLabelCountsAndDecrements() {
        MetricsRegistry r = new MetricsRegistry();
        assertThrows(IllegalArgumentException.class, () -> r.counter("no_suffix", "h"));
        assertThrows(IllegalArgumentException.class, () -> r.gauge("bad-name", "h"));
        Counter c = r.counter("a_total", "h", "l");
        assertThrows(IllegalArgumentException.class, () -> r.counter("a_total", "h"));
        assertThrows(IllegalArgumentException.class, () -> c.inc());
        assertThrows(IllegalArgumentException.class, () -> c.add(-1, "x"));
    }

    @Test
    void daemonSessionsAreReportedUntilTheirHandleCloses() throws Exception {
        MetricsRegistry r = new MetricsRegistry();
        DaemonMetrics d = new DaemonMetrics(r);
        AutoCloseable session = d.track("vol-1", new SessionFigures() {
            @Override public int workers() { return 4; }
            @Override public long passthroughOpenFiles() { return 2; }
        });
        String text = r.scrape();
        assertTrue(text.contains("efuse_fuse_sessions 1\n"), text);
        assertTrue(text.contains("efuse_fuse_session_workers{volume=\"vol-1\"} 4\n"), text);
        assertTrue(text.contains("efuse_fuse_passthrough_open_files{volume=\"vol-1\"} 2\n"), text);
        session.close();
        text = r.scrape();
        assertTrue(text.contains("efuse_fuse_sessions 0\n"), text);
        assertTrue(!text.contains("volume=\"vol-1\""), text);
    }

    @Test
    void rpcCallsAreCountedByCodeAndTimed() {
        MetricsRegistry r = new MetricsRegistry();
        RpcMetrics rpc = new RpcMetrics(r);
        rpc.observe("Node", "NodePublishVolume", "OK", Duration.ofMillis(3));
        rpc.observe("Node", "NodePublishVolume", "NOT_FOUND", Duration.ofMillis(1));
        String text = r.scrape();
        assertTrue(text.contains(
                "efuse_csi_rpc_requests_total{service=\"Node\",method=\"NodePublishVolume\",code=\"OK\"} 1\n"), text);
        assertTrue(text.contains(
                "efuse_csi_rpc_duration_seconds_count{service=\"Node\",method=\"NodePublishVolume\"} 2\n"), text);
        assertTrue(text.contains("efuse_csi_rpc_duration_seconds_bucket{service=\"Node\",method=\"NodePublishVolume\","
                + "le=\"0.001\"} 1\n"), text);
        assertEquals(0.004, Double.parseDouble(text.lines()
                .filter(l -> l.startsWith("efuse_csi_rpc_duration_seconds_sum")).findFirst().orElseThrow()
                .split(" ")[1]), 1e-9);
    }
}
