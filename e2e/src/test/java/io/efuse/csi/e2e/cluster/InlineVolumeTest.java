package io.efuse.csi.e2e.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;

/**
 * A CSI ephemeral inline volume as a user declares it in a pod: made on the node with its size, usable and held to
 * that size, and gone from the node — mount, data, record, recoverable state — once the pod is deleted. Needs the
 * release installed with inlineVolumes.enabled=true (DriverRelease sets it).
 */
@ClusterTest
@Order(6)
class InlineVolumeTest {

    private static final long SIZE = 64L << 20;
    /** The chart's defaults: node.backingRoot (whose volumes/ holds each volume) and node.stateDir. */
    private static final String DATA = "/var/lib/efuse/volumes/volumes";
    private static final String RECORDS = "/var/lib/efuse/state/inline";
    private static final String STAGING = "/var/lib/efuse/state/inline-staging";

    private DriverRelease release;
    private Workloads w;
    /** The driver's id of the pod's volume (i-…), found from its record on the node. */
    private String id;

    @BeforeAll
    void podWithAnInlineVolume() {
        release = DriverRelease.require();
        List<String> modes = release.kube.storage().v1().csiDrivers().withName(DriverRelease.DRIVER).get().getSpec()
                .getVolumeLifecycleModes();
        Assumptions.assumeTrue(modes.contains("Ephemeral"), () -> "the CSIDriver lists " + modes + ": the release"
                + " needs inlineVolumes.enabled=true for inline volumes");
        w = Workloads.namespace(release.kube, "e2e-inline");
        w.inlineSleeper("scratch", Map.of("size", "64Mi", "tier", "auto"));
        w.awaitRunning("scratch");
    }

    @AfterAll
    void cleanUp() {
        if (w != null) {
            w.delete();
        }
    }

    private String node(String script) {
        return release.cluster.nodeShell(script).orFail("on the node: " + script).out().strip();
    }

    @Test
    @Order(1)
    void thePodWritesReadsAndSeesItsSize() {
        String sums = w.exec("scratch", "head -c 8388608 /dev/urandom > /data/random && echo hello > /data/small"
                + " && sync && cd /data && sha256sum random small").orFail("writing to the inline volume").out();
        assertEquals(sums, w.exec("scratch", "cd /data && sha256sum random small").orFail("reading it back").out());
        assertEquals(SIZE, w.dfBytes("scratch", "/data"), "df shows the size in the pod's volumeAttributes");

        var fill = w.exec("scratch", "dd if=/dev/zero of=/data/fill bs=1M count=96 conv=fsync");
        assertNotEquals(0, fill.exitCode(), "a write past the size fails");
        assertTrue(fill.err().contains("Disk quota exceeded") || fill.err().contains("No space left on device"),
                "the error is EDQUOT or ENOSPC: " + fill.err());
        w.exec("scratch", "rm -f /data/fill").orFail("freeing the space");
    }

    @Test
    @Order(2)
    void theNodeHasTheVolumeRecordedAsInline() {
        String uid = w.pod("scratch").getMetadata().getUid();
        String record = node("grep -l '" + uid + "' " + RECORDS + "/*.json || true");
        assertTrue(record.endsWith(".json") && !record.contains("\n"), "one record names the pod: " + record);
        id = record.substring(record.lastIndexOf('/') + 1, record.length() - ".json".length());
        assertTrue(id.startsWith("i-"), id);
        System.out.println("inline volume of pod " + uid + ": " + id + ", " + node("cat " + record));
        assertEquals("8388608", node("stat -c %s " + DATA + "/" + id + "/random"), "the data is in the backing root");
        assertTrue(node("findmnt -rn -o TARGET -t fuse.efuse").lines().anyMatch((STAGING + "/" + id)::equals),
                "its session is mounted at the node's own staging path");
    }

    @Test
    @Order(3)
    void deletingThePodLeavesNothingOfTheVolumeOnTheNode() {
        Assumptions.assumeTrue(id != null, "the volume's id was not found on the node");
        long start = System.nanoTime();
        w.deletePod("scratch");
        String leftovers = "for p in " + DATA + "/" + id + " " + RECORDS + "/" + id + ".json " + STAGING + "/" + id
                + " /run/efuse/" + id + "; do [ -e $p ] && echo $p; done; findmnt -rn -o TARGET | grep -F " + id
                + " || true";
        Wait.until("the node to have nothing left of " + id, Duration.ofMinutes(2), () -> node(leftovers),
                String::isEmpty);
        System.out.printf("TIMING pod deletion -> inline volume gone from the node: %.1f s%n",
                (System.nanoTime() - start) / 1e9);
    }
}
