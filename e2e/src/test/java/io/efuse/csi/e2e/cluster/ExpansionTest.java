package io.efuse.csi.e2e.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.fabric8.kubernetes.api.model.Quantity;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;

/** Online expansion: the claim's size is edited while its pod runs, and df in that pod grows. */
@ClusterTest
@Order(3)
class ExpansionTest {

    private Workloads w;

    @AfterAll
    void cleanUp() {
        if (w != null) {
            w.delete();
        }
    }

    @Test
    void editingTheClaimsSizeGrowsDfInTheRunningPodWithoutARestart() {
        w = Workloads.namespace(DriverRelease.require().kube, "e2e-expand");
        w.claim("data", Workloads.LOCAL, "64Mi", "ReadWriteOnce");
        w.sleeper("app", "data");
        var before = w.awaitRunning("app");
        assertEquals(64L << 20, w.dfBytes("app", "/data"));

        long start = System.nanoTime();
        w.claimResource("data").edit(c -> {
            c.getSpec().getResources().getRequests().put("storage", new Quantity("160Mi"));
            return c;
        });
        long grown = Wait.until("df in the running pod to show 160Mi", Duration.ofMinutes(3),
                () -> w.dfBytes("app", "/data"), df -> df == 160L << 20,
                df -> df + " bytes; claim status " + w.claim("data").getStatus());
        System.out.printf("TIMING claim edit -> df grown in the running pod: %.1f s%n", (System.nanoTime() - start) / 1e9);
        assertEquals(160L << 20, grown);
        Wait.until("the claim to report 160Mi", Duration.ofMinutes(2), () -> w.claim("data"),
                c -> c.getStatus().getCapacity() != null
                        && Quantity.getAmountInBytes(c.getStatus().getCapacity().get("storage")).longValueExact() == 160L << 20,
                c -> "status " + c.getStatus());

        var after = w.pod("app");
        assertEquals(before.getMetadata().getUid(), after.getMetadata().getUid(), "the same pod");
        assertEquals(0, after.getStatus().getContainerStatuses().getFirst().getRestartCount(), "its container did not restart");
        // the new room is really there: more than the old size fits now
        w.exec("app", "dd if=/dev/zero of=/data/big bs=1M count=100 conv=fsync status=none && rm /data/big")
                .orFail("writing 100 MiB into the grown claim");
    }
}
