package io.efuse.csi.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/** /healthz is what the chart's liveness probes ask; it needs no BPF. */
class MetricsServerHealthTest {

    private static HttpResponse<String> get(MetricsServer server, String path) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + server.port() + path)).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void healthzAnswersAsTheProcessesCheckSays() throws Exception {
        AtomicBoolean ready = new AtomicBoolean(false);
        MetricsRegistry registry = new MetricsRegistry();
        registry.gauge("efuse_csi_volumes", "test").set(3);
        try (MetricsServer server = MetricsServer.start(new InetSocketAddress("127.0.0.1", 0), registry, ready::get)) {
            HttpResponse<String> r = get(server, "/healthz");
            assertEquals(503, r.statusCode());
            assertEquals("not ready\n", r.body());
            ready.set(true);
            r = get(server, "/healthz");
            assertEquals(200, r.statusCode());
            assertEquals("ok\n", r.body());
            assertEquals(200, get(server, "/metrics").statusCode());
            assertEquals(404, get(server, "/other").statusCode());
        }
    }

    @Test
    void aFailingCheckIsUnhealthyNotAnError() throws Exception {
        try (MetricsServer server = MetricsServer.start(new InetSocketAddress("127.0.0.1", 0), new MetricsRegistry(),
                () -> {
                    throw new IllegalStateException("store closed");
                })) {
            assertEquals(503, get(server, "/healthz").statusCode());
        }
    }
}
