package io.efuse.csi.e2e.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.storage.StorageClassBuilder;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A claim of each storage engine the node offers, asked for by a StorageClass parameter: the release's node keeps
 * its backing root on a btrfs pool made on an image file (so btrfs is its own choice), and makes images on loop
 * devices and plain directories on request. Each claim shows its size in df, holds its writes to it, and is named
 * with its engine in the node plugin's metrics.
 */
@ClusterTest
@Order(6)
class StorageEngineTest {
    private Workloads w;

    @ParameterizedTest(name = "engine {0}, {1}")
    @CsvSource({"btrfs, 96Mi, 100663296", "image, 320Mi, 335544320", "daemon, 64Mi, 67108864"})
    void aClaimOfEachEngineIsHeldToItsSizeAndNamedWithItsEngine(String engine, String size, long bytes) {
        var release = DriverRelease.require();
        var kube = release.kube;
        String sc = "e2e-engine-" + engine;
        kube.storage().v1().storageClasses().resource(new StorageClassBuilder().withNewMetadata().withName(sc)
                .endMetadata().withProvisioner(DriverRelease.DRIVER).withVolumeBindingMode("WaitForFirstConsumer")
                .withAllowVolumeExpansion(true).withReclaimPolicy("Delete")
                .withParameters(Map.of("engine", engine)).build()).createOr(r -> r.update());
        w = Workloads.namespace(kube, "e2e-engine-" + engine);
        w.claim("data", sc, size, "ReadWriteOnce");
        w.sleeper("app", "data");
        w.awaitRunning("app");
        String id = w.volumeId("data");

        assertEquals(bytes, w.dfBytes("app", "/data"), "df shows the claim's size");
        var fill = w.exec("app", "dd if=/dev/zero of=/data/fill bs=1M count=" + (bytes / (1 << 20) + 64)
                + " oflag=direct");
        assertNotEquals(0, fill.exitCode(), "a write past the size fails");
        assertTrue(fill.err().contains("Disk quota exceeded") || fill.err().contains("No space left on device"),
                "EDQUOT or ENOSPC: " + fill.err());
        w.exec("app", "rm /data/fill && echo kept > /data/kept && sync").orFail("writing after freeing the space");

        String nodePod = release.pod("node").getMetadata().getName();
        Scrape page = Wait.until("efuse_volume_info of " + id, Duration.ofMinutes(1),
                () -> Scrape.pod(kube, DriverRelease.NAMESPACE, nodePod, DriverRelease.NODE_METRICS_PORT),
                s -> !s.series("efuse_volume_info", "volume", id).isEmpty());
        var info = page.series("efuse_volume_info", "volume", id).getFirst();
        System.out.println("engine " + engine + ": efuse_volume_info " + info.labels());
        assertEquals(engine, info.labels().get("engine"), "the metrics name the volume's engine: " + info);
        if (!engine.equals("daemon")) {
            assertEquals("passthrough", info.labels().get("tier"), "the kernel holds the size, so file data takes "
                    + "the passthrough path: " + info);
        }
        w.delete();
        w = null;
        kube.storage().v1().storageClasses().withName(sc).delete();
    }

    @AfterAll
    void cleanUp() {
        if (w != null) {
            w.delete();
        }
        var kube = DriverRelease.require().kube;
        for (String engine : List.of("btrfs", "image", "daemon")) {
            kube.storage().v1().storageClasses().withName("e2e-engine-" + engine).delete();
        }
    }
}
