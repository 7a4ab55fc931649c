package io.efuse.csi.e2e.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;

/**
 * The node plugin's metrics, scraped through the cluster (the API server's proxy to the pod's metrics port, which the
 * chart's metrics Service selects): the series docs/monitoring.md lists for a volume in use.
 */
@ClusterTest
@Order(7)
class MetricsTest {

    private Workloads w;

    @AfterAll
    void cleanUp() {
        if (w != null) {
            w.delete();
        }
    }

    @Test
    void theNodePluginExportsTheSeriesOfAVolumeInUse() {
        var release = DriverRelease.require();
        var kube = release.kube;
        w = Workloads.namespace(kube, "e2e-metrics");
        w.claim("data", Workloads.LOCAL, "64Mi", "ReadWriteOnce");
        w.sleeper("app", "data");
        w.awaitRunning("app");
        String id = w.volumeId("data");
        w.exec("app", "for i in $(seq 1 50); do echo $i > /data/f$i; cat /data/f$i > /dev/null; done;"
                + " dd if=/dev/zero of=/data/big bs=64k count=64 conv=fsync status=none && ls /data > /dev/null").orFail("I/O");

        String nodePod = release.pod("node").getMetadata().getName();
        var endpoints = kube.discovery().v1().endpointSlices().inNamespace(DriverRelease.NAMESPACE)
                .withLabel("kubernetes.io/service-name", DriverRelease.NAME + "-node-metrics").list().getItems();
        assertTrue(endpoints.stream().flatMap(s -> s.getEndpoints().stream())
                        .anyMatch(e -> e.getTargetRef() != null && nodePod.equals(e.getTargetRef().getName())),
                "the node metrics Service selects the node plugin: " + endpoints);

        Scrape page = Wait.until("efuse_volume_info of " + id + " from " + nodePod, Duration.ofMinutes(1),
                () -> Scrape.pod(kube, DriverRelease.NAMESPACE, nodePod, DriverRelease.NODE_METRICS_PORT),
                s -> !s.series("efuse_volume_info", "volume", id).isEmpty(),
                s -> "volumes " + s.series("efuse_volume_info").stream().map(x -> x.labels()).toList());
        var info = page.series("efuse_volume_info", "volume", id).getFirst();
        System.out.println("efuse_volume_info " + info.labels());
        assertTrue(info.labels().get("mount_point").contains(DriverRelease.DRIVER), "mounted at the staging path: " + info);
        assertFalse(info.labels().get("tier").isEmpty(), "the volume's tier is named: " + info);
        assertFalse(page.series("efuse_csi_rpc_requests_total").isEmpty(), "the node plugin counts its CSI calls");
        assertTrue(page.series("efuse_csi_rpc_requests_total").stream()
                        .anyMatch(s -> "NodeStageVolume".equals(s.labels().get("method")) && s.value() > 0),
                "NodeStageVolume calls are counted: " + page.series("efuse_csi_rpc_requests_total"));

        List<Scrape.Sample> up = page.series("efuse_fuse_monitor_up");
        assertEquals(1, up.size(), "efuse_fuse_monitor_up is exported");
        if (up.getFirst().value() == 1) {
            Scrape withRequests = Wait.until("efuse_fuse_requests_total of " + id, Duration.ofMinutes(1),
                    () -> Scrape.pod(kube, DriverRelease.NAMESPACE, nodePod, DriverRelease.NODE_METRICS_PORT),
                    s -> s.series("efuse_fuse_requests_total", "volume", id).stream().mapToDouble(Scrape.Sample::value).sum() > 0);
            var requests = withRequests.series("efuse_fuse_requests_total", "volume", id);
            System.out.println("efuse_fuse_requests_total of the volume: " + requests.stream()
                    .map(s -> s.labels().get("op") + "=" + (long) s.value()).toList());
            assertTrue(requests.stream().anyMatch(s -> "create".equals(s.labels().get("op")) && s.value() >= 50),
                    "the volume's creates are counted: " + requests);
            if (!"passthrough".equals(info.labels().get("tier"))) {
                // on the passthrough tier file data never reaches the daemon, so there are no writes to count
                assertTrue(requests.stream().anyMatch(s -> "write".equals(s.labels().get("op")) && s.value() > 0),
                        "the volume's writes are counted: " + requests);
            }
            assertFalse(withRequests.series("efuse_fuse_request_duration_seconds_bucket", "volume", id).isEmpty(),
                    "the volume's latency histogram is exported");
        } else {
            System.out.println("the eBPF monitor is off on this node: " + page.series("efuse_fuse_monitor_info")
                    + "; only efuse_volume_info and the CSI series are checked");
        }
    }
}
