package io.efuse.csi.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.efuse.csi.bpf.BpfHost;
import io.efuse.csi.bpf.BpfTestSupport;
import io.efuse.csi.bpf.TestFuseMount;
import io.efuse.csi.fuse.WorkerAdvisor;
import io.efuse.csi.testing.RequiresBpf;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@RequiresBpf
class NodeTelemetryTest {

    @TempDir
    Path dir;

    private BpfHost host;

    @BeforeEach
    void setUp() {
        host = BpfTestSupport.privateHost();
    }

    @AfterEach
    void tearDown() throws Exception {
        BpfTestSupport.removePins(host);
    }

    @Test
    void publishesVolumesCountsSlowRequestsAndAdvisesWorkers() throws Exception {
        Path state = dir.resolve("state");
        try (NodeTelemetry t = NodeTelemetry.start(host, state, new InetSocketAddress("127.0.0.1", 0));
                TestFuseMount mount = TestFuseMount.mount(dir)) {
            int conn = mount.connectionId();
            AutoCloseable volume = t.volumeMounted(conn, "pvc-9", mount.mountPoint.toString(), "classic",
                    new SessionFigures() {
                        @Override public int workers() { return 2; }
                        @Override public long passthroughOpenFiles() { return 0; }
                    });
            assertEquals("pvc-9", VolumeDirectory.readPublished(state).get(conn).volumeId());
            assertInstanceOf(LoadAwareWorkers.class, t.workerAdvisor(conn, 1, 8));

            t.watchSlowRequests(Duration.ofNanos(1), 5);
            Path file = mount.mountPoint.resolve("f");
            Files.writeString(file, "x");
            String series = "efuse_fuse_slow_requests_total{volume=\"pvc-9\",op=\"getattr\"}";
            String text = "";
            long deadline = System.nanoTime() + 10_000_000_000L;
            try (FileChannel ch = FileChannel.open(file)) {
                while (!text.contains(series) && System.nanoTime() < deadline) {
                    ch.size();
                    text = scrape(t.metricsPort().orElseThrow());
                }
            }
            assertTrue(text.contains(series), text);
            assertTrue(text.contains("efuse_fuse_requests_total{volume=\"pvc-9\",op=\"getattr\"}"), text);

            volume.close();
            assertFalse(VolumeDirectory.readPublished(state).containsKey(conn), "unmounted volumes are unpublished");
            assertFalse(scrape(t.metricsPort().orElseThrow()).contains("efuse_fuse_session_workers{volume=\"pvc-9\"}"));
        }
    }

    @Test
    void withoutTheMonitorWorkersStayFixedAndTheEndpointSaysWhy() throws Exception {
        BpfHost noBtf = new BpfHost(host.libbpf(), dir.resolve("no-btf"), host.tracefs(), host.bpffs(),
                host.pinRoot(), host.mountinfo());
        try (NodeTelemetry t = NodeTelemetry.start(noBtf, null, new InetSocketAddress("127.0.0.1", 0))) {
            assertEquals(WorkerAdvisor.FIXED, t.workerAdvisor(40, 1, 8));
            t.watchSlowRequests(Duration.ofMillis(1), 5); // no monitor: nothing to watch, no failure
            String text = scrape(t.metricsPort().orElseThrow());
            assertTrue(text.contains("efuse_fuse_monitor_up 0\n"), text);
            assertTrue(text.contains("efuse_fuse_monitor_info{reason=\"the kernel has no BTF"), text);
        }
    }

    private static String scrape(int port) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port
                + "/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
    }
}
