package io.efuse.csi.e2e.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.Pod;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;

/**
 * helm upgrade to a new image tag while a pod writes (docs/install.md, "Upgrades keep volumes mounted"): the node
 * plugin rolls, the daemon surges and hands its sessions over, and the pod sees a pause, never an error.
 */
@ClusterTest
@Order(9)
class UpgradeTest {

    private Workloads w;

    @AfterAll
    void cleanUp() {
        if (w != null) {
            w.delete();
        }
    }

    @Test
    void helmUpgradeToANewImageTagWhileAPodWritesCostsAPauseAndNoError() {
        var release = DriverRelease.require();
        release.awaitReady(Duration.ofMinutes(3));
        w = Workloads.namespace(release.kube, "e2e-upgrade");
        w.claim("data", Workloads.LOCAL, "128Mi", "ReadWriteOnce");
        // long enough for any rollout; ended through the stop file once the rollout is done
        w.runner("load", LoadRun.script(900), "data");
        w.awaitRunning("load");
        Wait.until("the load to start", Duration.ofMinutes(1), () -> w.log("load"), l -> l.contains(LoadRun.STARTED));
        Wait.sleep(Duration.ofSeconds(10));

        String oldFsd = release.pod("fsd").getMetadata().getName();
        long upgradedAt = System.currentTimeMillis();
        double rollout;
        try (LogCapture logs = new LogCapture(release.kube, release.pods())) {
            release.upgradeTo(DriverRelease.UPGRADE_TAG);
            release.awaitReady(Duration.ofMinutes(5));
            rollout = (System.currentTimeMillis() - upgradedAt) / 1e3;
            Wait.sleep(Duration.ofSeconds(10)); // the load runs on under the new processes before it stops
        }
        System.out.printf("TIMING helm upgrade -> every pod Ready on %s: %.1f s%n", release.image(), rollout);
        assertTrue(release.kube.pods().inNamespace(DriverRelease.NAMESPACE).withName(oldFsd).get() == null,
                "the old daemon " + oldFsd + " is gone");

        w.exec("load", "touch " + LoadRun.STOP_FILE).orFail("ending the load");
        Pod done = w.awaitCompleted("load", Duration.ofMinutes(5));
        String log = w.log("load");
        LoadRun run = LoadRun.parse(log);
        System.out.printf("PAUSE helm upgrade under fio: longest probe round from the upgrade on %.0f ms; %s%n",
                run.pauseAfterMs(upgradedAt, Duration.ofSeconds((long) rollout + 5)), run.summary());
        assertTrue(run.clean(), "the pod saw no error; problems: " + run.problemsText() + "\n" + LoadRun.tail(log));
        assertEquals("Succeeded", done.getStatus().getPhase(), "the load pod exits 0:\n" + LoadRun.tail(log));
    }
}
