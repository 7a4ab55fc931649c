package io.efuse.csi.csi;

import static org.junit.jupiter.api.Assertions.*;

import csi.v1.Csi;
import io.efuse.csi.fsd.FdKeeper;
import io.efuse.csi.fsd.IoProbe;
import io.efuse.csi.fsd.MountProbe;
import io.efuse.csi.fsd.NodeProcesses;
import io.efuse.csi.metrics.VolumeDirectory;
import io.efuse.csi.sys.MountTable;
import io.efuse.csi.testing.BoundedWait;
import io.efuse.csi.testing.FioVerify;
import io.efuse.csi.testing.RequiresFuse;
import io.efuse.csi.volume.KeeperMounter;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The node service staging through the fd keeper, with {@code efuse-csi fsd} as child processes, driven over the
 * CSI socket as kubelet does: the daemon is killed under fio with verification, the node plugin side restarts and
 * kubelet's retried calls adopt the live volume, a reboot (no mounts, the state left) stages afresh, and with no
 * daemon staging fails with UNAVAILABLE. The pauses are printed: they are measurements of this machine.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
@RequiresFuse
class NodeOverKeeperTest {
    private static final Duration BOUND = Duration.ofSeconds(120);
    private static final BoundedWait WAIT = BoundedWait.upTo(BOUND);
    private static final int MIB = 1 << 20;

    @TempDir
    Path dir;
    private NodeProcesses processes;
    private FdKeeper keeper;
    private CsiTestDriver d;

    @BeforeEach
    void setUp() throws IOException {
        processes = new NodeProcesses(dir);
        startNodePlugin(Duration.ofSeconds(60));
    }

    @AfterEach
    void tearDown() throws Exception {
        if (d != null) {
            d.close();
        }
        if (processes != null) {
            processes.close();
        }
        if (keeper != null) {
            keeper.close();
        }
        for (MountTable.Entry e : MountTable.read().reversed()) {
            if (Path.of(e.mountPoint()).startsWith(dir)) {
                MountProbe.repair(Path.of(e.mountPoint()), Duration.ofSeconds(2));
            }
        }
        CsiTestDriver.unmountEverythingUnder(dir);
    }

    /** The node plugin's side: its keeper on the node's socket and the CSI services. */
    private void startNodePlugin(Duration daemonWait) throws IOException {
        keeper = FdKeeper.start(processes.socket());
        d = new CsiTestDriver(dir, new KeeperMounter(keeper, dir.resolve("run"), 2, daemonWait), dir.resolve("backing"));
    }

    /** The node plugin stops (SIGTERM, an upgrade, a crash): its keeper goes, nothing is unstaged. */
    private void stopNodePlugin() throws InterruptedException {
        d.stopProcess();
        d = null;
        keeper.close();
        keeper = null;
    }

    private Path staging(String id) {
        return dir.resolve("kubelet/plugins/staging").resolve(id);
    }

    private Path target(String id) {
        return dir.resolve("kubelet/pods/p1/volumes").resolve(id).resolve("mount");
    }

    private Path data(String id) {
        return dir.resolve("backing/volumes").resolve(id);
    }

    private Path stageAndPublish(String id) {
        d.stage(id, staging(id));
        d.publish(id, staging(id), target(id), false);
        return target(id);
    }

    /** The mount id of the topmost mount at path (mountinfo's first field): a new mount gets a new one. */
    private static String mountId(Path path) throws IOException {
        String found = null;
        for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
            String[] f = line.split(" ");
            if (f[4].equals(path.toString())) {
                found = f[0];
            }
        }
        return found;
    }

    private Csi.NodeGetVolumeStatsResponse stats(String id, Path path) {
        return d.node.nodeGetVolumeStats(Csi.NodeGetVolumeStatsRequest.newBuilder().setVolumeId(id)
                .setVolumePath(path.toString()).build());
    }

    @Test
    void theDaemonKilledUnderFioAndTheNodePluginRestartedLoseNothingAndRemountNothing() throws Exception {
        NodeProcesses.Child active = processes.fsd();
        String id = d.create("app", 256L * MIB).getVolumeId();
        Path target = stageAndPublish(id);
        Files.writeString(target.resolve("before"), "written before the faults\n");
        String stagingMount = mountId(staging(id));
        String targetMount = mountId(target);
        int connection = MountTable.find(staging(id)).orElseThrow().minor();
        NodeProcesses.Child next = processes.fsd();
        next.awaitLog("on standby", BOUND);

        FioVerify fio = FioVerify.start("faults", target, dir, 24, 3);
        try (IoProbe probe = new IoProbe(target).start()) {
            WAIT.until("fio to be writing", () -> {
                try (var files = Files.list(data(id))) {
                    return files.anyMatch(f -> f.getFileName().toString().startsWith("faults.")
                            && f.toFile().length() > 4 * MIB);
                }
            });
            long t = System.nanoTime();
            active.kill9();
            next.awaitLog("serving again", BOUND);
            double killPause = probe.pauseAfter(t);

            // The node plugin restarts while fio runs; kubelet then retries NodeStage and NodePublish.
            long r = System.nanoTime();
            stopNodePlugin();
            startNodePlugin(Duration.ofSeconds(60));
            d.stage(id, staging(id));
            d.publish(id, staging(id), target, false);
            double restartPause = probe.pauseAfter(r);
            assertEquals(stagingMount, mountId(staging(id)), "the staging mount was adopted, not mounted again");
            assertEquals(targetMount, mountId(target), "the pod's target was left as it was");
            assertEquals(connection, MountTable.find(staging(id)).orElseThrow().minor());

            Csi.NodeGetVolumeStatsResponse st = stats(id, target);
            assertFalse(st.getVolumeCondition().getAbnormal(), st.getVolumeCondition().getMessage());
            assertTrue(st.getVolumeCondition().getMessage().contains("tier classic")
                    || st.getVolumeCondition().getMessage().contains("tier passthrough"), st.toString());
            assertEquals(256L * MIB, st.getUsage(0).getTotal());

            d.controller.controllerExpandVolume(Csi.ControllerExpandVolumeRequest.newBuilder().setVolumeId(id)
                    .setCapacityRange(Csi.CapacityRange.newBuilder().setRequiredBytes(512L * MIB)).build());
            d.node.nodeExpandVolume(Csi.NodeExpandVolumeRequest.newBuilder().setVolumeId(id)
                    .setVolumePath(target.toString()).setCapacityRange(Csi.CapacityRange.newBuilder()
                            .setRequiredBytes(512L * MIB)).build());
            assertEquals(512L * MIB, Files.getFileStore(target).getTotalSpace(), "the live volume grew");

            fio.assertClean(BOUND.multipliedBy(3));
            probe.close();
            assertEquals(List.of(), probe.errors(), "the application saw no error");
            System.out.printf("node plugin over the keeper: kill -9 of the daemon under fio: pause %.0f ms;"
                    + " node plugin restart + NodeStage/NodePublish again: pause %.0f ms; probe rounds %d%n",
                    killPause, restartPause, probe.rounds());
        }
        assertEquals("written before the faults\n", Files.readString(target.resolve("before")));

        d.unpublish(id, target);
        d.unstage(id, staging(id));
        assertFalse(MountTable.isMountPoint(staging(id)));
        assertTrue(keeper.held().isEmpty(), "the keeper let the volume go");
        d.unstage(id, staging(id));
    }

    @Test
    void theDaemonPublishesWhatItServesSoThatTheNodePluginsMetricsNameTheVolume() throws Exception {
        processes.fsd();
        String id = d.create("observed", 64L * MIB).getVolumeId();
        stageAndPublish(id);
        int connection = MountTable.find(staging(id)).orElseThrow().minor();
        // What the node plugin's collector reads at each scrape: the daemon is another process.
        VolumeDirectory node = new VolumeDirectory(VolumeDirectory.DEFAULT_STATE_DIR);
        VolumeDirectory.Volume v = node.all().get(connection);
        assertNotNull(v, "the daemon published connection " + connection + ": " + node.all());
        assertEquals(id, v.volumeId());
        assertEquals(staging(id).toString(), v.mountPoint());

        d.unpublish(id, target(id));
        d.unstage(id, staging(id));
        WAIT.until("the daemon to withdraw the volume", () -> !node.all().containsKey(connection));
    }

    @Test
    void afterARebootTheStateIsLeftButNoMountAndStagingMountsAgain() throws Exception {
        NodeProcesses.Child fsd = processes.fsd();
        String id = d.create("survivor", 64L * MIB).getVolumeId();
        Path target = stageAndPublish(id);
        Files.writeString(target.resolve("data"), "on disk\n");

        // A reboot: every process and mount is gone; the state directory (here not on tmpfs) is left.
        fsd.kill9();
        stopNodePlugin();
        MountProbe.repair(staging(id), Duration.ofSeconds(5));
        CsiTestDriver.unmountEverythingUnder(dir.resolve("kubelet"));
        assertTrue(Files.isDirectory(dir.resolve("run").resolve(id)), "the volume's state directory is left");
        assertFalse(MountTable.isMountPoint(staging(id)));

        NodeProcesses.Child booted = processes.fsd();
        startNodePlugin(Duration.ofSeconds(60));
        stageAndPublish(id);
        assertTrue(MountTable.isMountPoint(staging(id)));
        booted.awaitLog("mounted " + staging(id) + ": FUSE", Duration.ofSeconds(5));
        assertEquals("on disk\n", Files.readString(target.resolve("data")));
        assertTrue(keeper.held(id).isPresent(), "the new mount's descriptors are held");
    }

    @Test
    void withNoDaemonStagingFailsUnavailableWithinItsBound() throws Exception {
        stopNodePlugin();
        startNodePlugin(Duration.ofSeconds(2));
        String id = d.create("orphan", 64L * MIB).getVolumeId();
        long t0 = System.nanoTime();
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> d.stage(id, staging(id)));
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.toString());
        assertTrue(e.getStatus().getDescription().contains("no eFuse daemon"), e.getStatus().getDescription());
        assertTrue(ms < 30_000, "answered after " + ms + " ms");
        assertFalse(MountTable.isMountPoint(staging(id)));

        // The daemon comes: kubelet's retry stages the volume.
        processes.fsd();
        WAIT.until("the daemon to connect", keeper::daemonConnected);
        stageAndPublish(id);
        Files.writeString(target(id).resolve("late"), "served");
        assertEquals("served", Files.readString(data(id).resolve("late")));
    }
}
