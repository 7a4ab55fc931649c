package io.efuse.csi.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.net.InetSocketAddress;
import java.net.http.HttpResponse;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/** /healthz is what the chart's liveness probes ask; it needs no BPF. */
class MetricsServerHealthTest {

    @Test
    void healthzAnswersAsTheProcessesCheckSays() throws Exception {
        AtomicBoolean ready = new AtomicBoolean(false);
        MetricsRegistry registry = new MetricsRegistry();
        registry.gauge("efuse_csi_volumes", "test").set(3);
        try (MetricsServer server = MetricsServer.start(new InetSocketAddress("127.0.0.1", 0), registry, ready::get)) {
            HttpResponse<String> r = Scrape.get(server.port(), "/healthz");
            assertEquals(503, r.statusCode());
            assertEquals("not ready\n", r.body());
            ready.set(true);
            r = Scrape.get(server.port(), "/healthz");
            assertEquals(200, r.statusCode());
            assertEquals("ok\n", r.body());
            assertEquals(200, Scrape.get(server.port(), "/metrics").statusCode());
            assertEquals(404, Scrape.get(server.port(), "/other").statusCode());
        }
    }

    @Test
    void aFailingCheckIsUnhealthyNotAnError() throws Exception {
        try (MetricsServer server = MetricsServer.start(new InetSocketAddress("127.0.0.1", 0), new MetricsRegistry(),
                () -> {
                    throw new IllegalStateException("store closed");
                })) {
            assertEquals(503, Scrape.get(server.port(), "/healthz").statusCode());
        }
    }
}
