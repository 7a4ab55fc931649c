package io.efuse.csi.e2e.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;

/** The shared StorageClass: one ReadWriteMany claim mounted by two pods at once, each seeing the other's writes. */
@ClusterTest
@Order(5)
class SharedVolumeTest {

    private Workloads w;

    @AfterAll
    void cleanUp() {
        if (w != null) {
            w.delete();
        }
    }

    @Test
    void twoPodsWriteToOneReadWriteManyClaimAndEachSeesTheOthersFiles() {
        var release = DriverRelease.require();
        assertNotNull(release.kube.storage().v1().storageClasses().withName(Workloads.SHARED).get(),
                "the chart made the shared StorageClass (node.sharedRoot is set by the cluster's values)");
        w = Workloads.namespace(release.kube, "e2e-shared");
        w.claim("shared", Workloads.SHARED, "64Mi", "ReadWriteMany");
        w.awaitBound("shared");
        w.sleeper("a", "shared");
        w.sleeper("b", "shared");
        w.awaitRunning("a");
        w.awaitRunning("b");

        w.exec("a", "echo from-a > /data/a.txt && sync").orFail("a writes");
        w.exec("b", "echo from-b > /data/b.txt && sync").orFail("b writes");
        String seenByA = Wait.until("a to see b's file", Duration.ofSeconds(60),
                () -> w.exec("a", "cat /data/b.txt 2>&1").out().strip(), "from-b"::equals);
        String seenByB = Wait.until("b to see a's file", Duration.ofSeconds(60),
                () -> w.exec("b", "cat /data/a.txt 2>&1").out().strip(), "from-a"::equals);
        assertEquals("from-b", seenByA);
        assertEquals("from-a", seenByB);
        // an append from each side lands in one file
        w.exec("a", "echo a-line >> /data/both.txt && sync").orFail("a appends");
        w.exec("b", "echo b-line >> /data/both.txt && sync").orFail("b appends");
        List<String> both = w.exec("a", "cat /data/both.txt").orFail("reading the shared file").out().lines().toList();
        assertEquals(List.of("a-line", "b-line"), both);
        System.out.println("shared claim " + w.volumeId("shared") + ": both pods see " + w.exec("b", "ls /data").out().strip());
    }
}
