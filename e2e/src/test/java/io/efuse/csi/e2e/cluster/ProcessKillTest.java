package io.efuse.csi.e2e.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.Pod;
import java.time.Duration;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;

/**
 * kill -9 of the eFuse daemon that serves the volume and of the node plugin, on the node, while a pod runs fio with
 * verification on its claim (docs/crash-recovery.md: each holds the other's /dev/fuse descriptors, so the pod sees
 * a pause, never an error). The pause is the longest round of the pod's write-and-fsync probe around the kill.
 */
@ClusterTest
@Order(8)
class ProcessKillTest {

    /** A process to kill: the container it runs in, and a pgrep pattern that matches it alone. */
    private record Target(String container, String pattern) {
    }

    private Workloads w;

    @AfterEach
    void cleanUp() {
        if (w != null) {
            w.delete();
        }
    }

    @Test
    @Order(1)
    void killingTheServingDaemonUnderFioWithVerifyPausesThePodWithoutAnError() {
        killUnderLoad("fsd", ProcessKillTest::servingDaemon);
    }

    @Test
    @Order(2)
    void killingTheNodePluginUnderFioWithVerifyPausesThePodWithoutAnError() {
        // the bracket keeps pgrep from matching a shell that carries the pattern in its own command line
        killUnderLoad("node", release -> new Target("efuse-csi", "[e]fuse-csi.jar node"));
    }

    private void killUnderLoad(String component, Function<DriverRelease, Target> target) {
        var release = DriverRelease.require();
        release.awaitReady(Duration.ofMinutes(3));
        w = Workloads.namespace(release.kube, "e2e-kill-" + component);
        w.claim("data", Workloads.LOCAL, "128Mi", "ReadWriteOnce");
        w.runner("load", LoadRun.script(LoadRun.SECONDS), "data");
        w.awaitRunning("load");
        Wait.until("the load to start", Duration.ofMinutes(1), () -> w.log("load"), l -> l.contains(LoadRun.STARTED));
        Wait.sleep(Duration.ofSeconds(10)); // load builds up: fio's files exist and both jobs write

        try (LogCapture logs = new LogCapture(release.kube, release.pods())) {
            killAndWatch(release, component, target.apply(release));
        }
    }

    private void killAndWatch(DriverRelease release, String component, Target target) {
        Pod before = release.pod(component);
        int restarts = restarts(before, target.container);
        String pid = onePid(release, target.pattern);
        long killedAt = System.currentTimeMillis();
        release.cluster.nodeExec(Duration.ofSeconds(30), "kill", "-9", pid).orFail("kill -9 " + pid + " (" + target + ")");
        System.out.println("kill -9 " + pid + " (" + before.getMetadata().getName() + " " + target.container + ")");

        Pod back = Wait.until(target.container + " to be restarted and every container of " + component + " Ready",
                Duration.ofMinutes(3), () -> release.pod(component),
                p -> restarts(p, target.container) > restarts && p.getStatus().getConditions().stream()
                        .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus())),
                Workloads::describe);
        System.out.printf("TIMING %s killed -> Ready again: %.1f s%n", component, (System.currentTimeMillis() - killedAt) / 1e3);
        assertEquals(before.getMetadata().getUid(), back.getMetadata().getUid(), "the same pod, its container restarted");
        assertNotEquals(pid, onePid(release, target.pattern), "a new process runs in the container");

        Pod done = w.awaitCompleted("load", Duration.ofSeconds(LoadRun.SECONDS).plus(Duration.ofMinutes(5)));
        String log = w.log("load");
        LoadRun run = LoadRun.parse(log);
        System.out.printf("PAUSE kill -9 %s (%s) under fio: pause after the kill %.0f ms; %s%n", component, target.container,
                run.pauseAfterMs(killedAt, Duration.ofSeconds(30)), run.summary());
        assertTrue(run.clean(), "the pod saw no error; problems: " + run.problemsText() + "\n" + LoadRun.tail(log));
        assertEquals("Succeeded", done.getStatus().getPhase(), "the load pod exits 0:\n" + LoadRun.tail(log));
    }

    /**
     * The daemon container that serves the sessions: with the chart's spare (fsd.spare) the pod runs two, and which of
     * them serves changes with every takeover. The serving one counts the sessions in its metrics.
     */
    private static Target servingDaemon(DriverRelease release) {
        Pod fsd = release.pod("fsd");
        List<Container> daemons = fsd.getSpec().getContainers().stream()
                .filter(c -> c.getImage().startsWith(DriverRelease.REPOSITORY + ":")).toList();
        StringBuilder seen = new StringBuilder();
        for (Container c : daemons) {
            int port = c.getPorts().getFirst().getContainerPort();
            double sessions = Scrape.pod(release.kube, DriverRelease.NAMESPACE, fsd.getMetadata().getName(), port)
                    .series("efuse_fuse_sessions").stream().mapToDouble(Scrape.Sample::value).sum();
            seen.append(c.getName()).append(" (:").append(port).append(") sessions ").append(sessions).append("; ");
            if (sessions > 0) {
                System.out.println("serving daemon: " + seen);
                return new Target(c.getName(), "[e]fuse-csi.jar fsd .*--metrics-address=:" + port + "( |$)");
            }
        }
        throw new AssertionError("no daemon container of " + fsd.getMetadata().getName() + " serves a session: " + seen);
    }

    static int restarts(Pod p, String container) {
        return p.getStatus().getContainerStatuses().stream().filter(s -> s.getName().equals(container))
                .mapToInt(s -> s.getRestartCount()).findFirst().orElse(-1);
    }

    private static String onePid(DriverRelease release, String pattern) {
        return Wait.until("exactly one process matching '" + pattern + "' on the node", Duration.ofMinutes(1),
                () -> release.cluster.nodeExec(Duration.ofSeconds(30), "pgrep", "-f", pattern).out().strip().lines().toList(),
                pids -> pids.size() == 1, List::toString).getFirst();
    }
}
