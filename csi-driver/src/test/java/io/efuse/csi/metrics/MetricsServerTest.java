package io.efuse.csi.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.efuse.csi.bpf.BpfHost;
import io.efuse.csi.bpf.BpfTestSupport;
import io.efuse.csi.bpf.NodeMonitor;
import io.efuse.csi.bpf.TestFuseMount;
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
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@RequiresBpf
class MetricsServerTest {

    private static final int N = 50;

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
    void scrapeOverHttpReturnsPerVolumeFuseSeriesDaemonAndRpcFigures() throws Exception {
        MetricsRegistry registry = new MetricsRegistry();
        VolumeDirectory volumes = new VolumeDirectory();
        try (NodeMonitor node = NodeMonitor.start(host); TestFuseMount mount = TestFuseMount.mount(dir);
                MetricsServer server = MetricsServer.start(new InetSocketAddress("127.0.0.1", 0), registry)) {
            registry.register(new FuseMonitorCollector(node, volumes));
            DaemonMetrics daemon = new DaemonMetrics(registry);
            new RpcMetrics(registry).observe("Node", "NodeGetVolumeStats", "OK", Duration.ofMillis(2));
            volumes.register(new VolumeDirectory.Volume(mount.connectionId(), "pvc-1", mount.mountPoint.toString(),
                    "classic"));
            daemon.track("pvc-1", new SessionFigures() {
                @Override public int workers() { return 2; }
                @Override public long passthroughOpenFiles() { return 0; }
            });
            Path file = mount.mountPoint.resolve("f");
            Files.writeString(file, "x");
            try (FileChannel ch = FileChannel.open(file)) {
                for (int i = 0; i < N; i++) {
                    ch.size();
                }
            }

            HttpResponse<String> resp = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + server.port() + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, resp.statusCode());
            assertTrue(resp.headers().firstValue("Content-Type").orElseThrow().startsWith("text/plain; version=0.0.4"));
            String text = resp.body();

            assertTrue(text.contains("efuse_fuse_monitor_up 1\n"), text);
            assertTrue(text.contains("efuse_volume_info{volume=\"pvc-1\",connection=\"" + mount.connectionId()
                    + "\",mount_point=\"" + mount.mountPoint + "\",tier=\"classic\",engine=\"\"} 1\n"), text);
            long getattrs = value(text, "efuse_fuse_requests_total\\{volume=\"pvc-1\",op=\"getattr\"\\}");
            assertTrue(getattrs >= N, "at least the test's fstat calls: " + getattrs);
            assertEquals(getattrs, value(text,
                    "efuse_fuse_request_duration_seconds_count\\{volume=\"pvc-1\",op=\"getattr\"\\}"));
            assertEquals(getattrs, value(text,
                    "efuse_fuse_request_duration_seconds_bucket\\{volume=\"pvc-1\",op=\"getattr\",le=\"\\+Inf\"\\}"));
            assertTrue(text.contains("# TYPE efuse_fuse_request_duration_seconds histogram\n"), text);
            assertTrue(text.contains("efuse_fuse_message_bytes_total{volume=\"pvc-1\",op=\"getattr\",message=\"reply\"}"),
                    text);
            assertTrue(text.contains("efuse_fuse_requests_in_flight{volume=\"pvc-1\"} 0\n"), text);
            assertTrue(text.contains("efuse_fuse_cpu_requests_in_flight{cpu=\"0\"}"), text);
            assertTrue(text.contains("efuse_fuse_sessions 1\n"), text);
            assertTrue(text.contains("efuse_fuse_session_workers{volume=\"pvc-1\"} 2\n"), text);
            assertTrue(text.contains(
                    "efuse_csi_rpc_requests_total{service=\"Node\",method=\"NodeGetVolumeStats\",code=\"OK\"} 1\n"),
                    text);
            assertTrue(!text.contains("volume=\"\""), "connections of other filesystems are not exported");

            // every series the Grafana dashboard queries is exported
            Path dashboard = Path.of("..", "charts", "efuse-csi", "dashboards", "efuse-csi.json");
            Matcher names = Pattern.compile("\\b(efuse_[a-z_]+?)(_bucket|_sum|_count)?\\b").matcher(
                    Files.readString(dashboard));
            int checked = 0;
            while (names.find()) {
                String family = names.group(1);
                if (!family.equals("efuse_csi") && !family.startsWith("efuse_fuse_monitor_info")) {
                    assertTrue(text.contains("# TYPE " + family + " "), "dashboard queries " + family
                            + " which the endpoint does not export");
                    checked++;
                }
            }
            assertTrue(checked > 10, "the dashboard was read: " + checked + " references");
        }
    }

    private static long value(String text, String seriesRegex) {
        Matcher m = Pattern.compile("(?m)^" + seriesRegex + " (\\d+)$").matcher(text);
        assertTrue(m.find(), seriesRegex + " missing in\n" + text);
        return Long.parseLong(m.group(1));
    }
}
