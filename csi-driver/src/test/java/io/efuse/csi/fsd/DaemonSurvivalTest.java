package io.efuse.csi.fsd;

import static org.junit.jupiter.api.Assertions.*;

import io.efuse.csi.sys.MountTable;
import io.efuse.csi.testing.FioVerify;
import io.efuse.csi.testing.RequiresFuse;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fault tests: the daemon (a child JVM) is killed with SIGKILL, restarted many times, upgraded with
 * SIGTERM, and the fd keeper is killed, all while fio writes and verifies and a probe creates, reads
 * and deletes files on the mount. The application must see no error. The pauses are printed, not
 * asserted: they are measurements of this machine (see docs/crash-recovery.md), not correctness.
 */
@RequiresFuse
class DaemonSurvivalTest {
    private static final Duration BOUND = Duration.ofSeconds(120);

    @TempDir
    Path dir;
    private Path backing;
    private Path mountPoint;
    private NodeProcesses node;

    @BeforeEach
    void setUp() throws IOException {
        backing = Files.createDirectories(dir.resolve("backing"));
        mountPoint = Files.createDirectories(dir.resolve("mnt"));
        node = new NodeProcesses(dir);
    }

    @AfterEach
    void tearDown() throws Exception {
        if (node != null) {
            node.close();
        }
        if (mountPoint != null && MountTable.isMountPoint(mountPoint)) {
            // Every holder of the connection is gone, so the mount is dead: clear it.
            MountProbe.repair(mountPoint, Duration.ofSeconds(2));
        }
    }

    private String volume() {
        return "vol1=" + backing + ":" + mountPoint + ":classic:2";
    }

    private NodeProcesses.Child startServing() throws Exception {
        NodeProcesses.Child fsd = node.fsd();
        NodeProcesses.Child keeper = node.keeper(dir.resolve("state"), volume());
        keeper.awaitLog("efuse-csi keep: ready", BOUND);
        assertTrue(MountTable.isMountPoint(mountPoint), "the volume is mounted");
        return fsd;
    }

    private NodeProcesses.Child standby() throws Exception {
        NodeProcesses.Child s = node.fsd();
        s.awaitLog("on standby", BOUND);
        return s;
    }

    private static String percentiles(List<Double> pauses) {
        double[] p = pauses.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return String.format("n=%d p50=%.0f ms p99=%.0f ms max=%.0f ms", p.length, p[p.length / 2],
                p[Math.min(p.length - 1, (int) Math.ceil(p.length * 0.99) - 1)], p[p.length - 1]);
    }

    @Test
    @Timeout(value = 10, unit = TimeUnit.MINUTES)
    void killingTheDaemonDuringFioWithVerifyLosesNoDataAndNoRequest() throws Exception {
        NodeProcesses.Child active = startServing();
        NodeProcesses.Child next = standby();
        FioVerify fio = FioVerify.start("kill9", mountPoint, dir, 32, 4);
        List<Double> hot = new ArrayList<>();
        try (IoProbe probe = new IoProbe(mountPoint).start()) {
            for (int i = 0; i < 2; i++) {
                TimeUnit.SECONDS.sleep(2); // let load build up between kills
                long t = System.nanoTime();
                active.kill9();
                next.awaitLog("serving again", BOUND);
                active = next;
                next = standby();
                hot.add(probe.pauseAfter(t));
            }
            // A cold restart: no standby waits, the next daemon is started only after the kill.
            next.kill9();
            TimeUnit.SECONDS.sleep(1);
            long t = System.nanoTime();
            active.kill9();
            NodeProcesses.Child cold = node.fsd();
            cold.awaitLog("serving again", BOUND);
            double coldPause = probe.pauseAfter(t);
            fio.assertClean(BOUND.multipliedBy(3));
            probe.close();
            assertEquals(List.of(), probe.errors(), "the application saw no error");
            System.out.printf("kill -9 with a standby daemon: pauses %s; cold restart (new JVM): %.0f ms; probe rounds %d%n",
                    hot, coldPause, probe.rounds());
        }
    }

    @Test
    @Timeout(value = 20, unit = TimeUnit.MINUTES)
    void twentyRestartsInARowUnderLoadGiveNoError() throws Exception {
        NodeProcesses.Child active = startServing();
        NodeProcesses.Child next = standby();
        List<Double> pauses = new ArrayList<>();
        List<Long> takeovers = new ArrayList<>();
        List<FioVerify> fios = new ArrayList<>();
        try (IoProbe probe = new IoProbe(mountPoint).start()) {
            FioVerify fio = FioVerify.start("restart-0", mountPoint, dir, 16, 1);
            fios.add(fio);
            for (int i = 1; i <= 20; i++) {
                if (!fio.isAlive()) {
                    fio.assertClean(BOUND.multipliedBy(3));
                    fio = FioVerify.start("restart-" + fios.size(), mountPoint, dir, 16, 1);
                    fios.add(fio);
                }
                long t = System.nanoTime();
                active.kill9();
                next.awaitLog("serving again", BOUND);
                pauses.add(probe.pauseAfter(t));
                takeovers.add(next.takeoverMillis());
                active = next;
                next = standby();
            }
            fio.assertClean(BOUND.multipliedBy(3));
            probe.close();
            assertEquals(List.of(), probe.errors(), "the application saw no error in 20 restarts");
            System.out.printf("20 x kill -9 under load: pauses %s; takeover inside the new daemon %s ms; %d fio runs"
                    + " verified; probe rounds %d%n", percentiles(pauses), takeovers, fios.size(), probe.rounds());
        }
    }

    @Test
    @Timeout(value = 10, unit = TimeUnit.MINUTES)
    void plannedUpgradeHandsOverWithoutErrors() throws Exception {
        NodeProcesses.Child active = startServing();
        List<Double> pauses = new ArrayList<>();
        List<Long> takeovers = new ArrayList<>();
        FioVerify fio = FioVerify.start("upgrade", mountPoint, dir, 32, 4);
        try (IoProbe probe = new IoProbe(mountPoint).start()) {
            for (int i = 0; i < 5; i++) {
                NodeProcesses.Child next = standby();
                TimeUnit.MILLISECONDS.sleep(500);
                long t = System.nanoTime();
                active.terminate(BOUND);
                next.awaitLog("serving again", BOUND);
                pauses.add(probe.pauseAfter(t));
                takeovers.add(next.takeoverMillis());
                active.awaitLog("handed over", Duration.ofSeconds(1));
                active = next;
            }
            fio.assertClean(BOUND.multipliedBy(3));
            probe.close();
            assertEquals(List.of(), probe.errors(), "the application saw no error");
            System.out.printf("planned upgrade (SIGTERM + standby): pauses %s; takeover inside the new daemon %s ms%n",
                    percentiles(pauses), takeovers);
        }
    }

    @Test
    @Timeout(value = 10, unit = TimeUnit.MINUTES)
    void killingTheKeeperHasNoEffectAndTheDaemonHandsItsDescriptorsToTheNextKeeper() throws Exception {
        NodeProcesses.Child active = node.fsd();
        NodeProcesses.Child keeper = node.keeper(dir.resolve("state"), volume());
        keeper.awaitLog("efuse-csi keep: ready", BOUND);
        FioVerify fio = FioVerify.start("keeper", mountPoint, dir, 32, 2);
        try (IoProbe probe = new IoProbe(mountPoint).start()) {
            TimeUnit.SECONDS.sleep(2);
            long t = System.nanoTime();
            keeper.kill9();
            TimeUnit.SECONDS.sleep(2);
            double pause = probe.pauseAfter(t);
            // A new keeper: the serving daemon reconnects and gives it the volume's descriptors.
            NodeProcesses.Child keeper2 = node.keeper(dir.resolve("state"), volume());
            keeper2.awaitLog("already served by the daemon", BOUND);
            keeper2.awaitLog("holding 2 device descriptors of vol1", BOUND);
            // Proof that the new keeper holds the connection: the daemon dies and a new one takes over from it.
            NodeProcesses.Child next = standby();
            active.kill9();
            next.awaitLog("serving again", BOUND);
            fio.assertClean(BOUND.multipliedBy(3));
            probe.close();
            assertEquals(List.of(), probe.errors(), "the application saw no error");
            System.out.printf("kill -9 of the fd keeper: longest probe round in the next 2 s %.0f ms%n", pause);
        }
    }

    @Test
    void protocolMessagesRoundTripAndAnotherVersionIsRefused() throws Exception {
        KeeperMessage m = KeeperMessage.of(KeeperMessage.Type.HOLD, "volume", "v", "mountPoint", "/m").withFds(new int[] {7});
        KeeperMessage back = KeeperMessage.decode(m.encode(), new int[] {9});
        assertEquals(KeeperMessage.Type.HOLD, back.type());
        assertEquals("/m", back.get("mountPoint"));
        assertArrayEquals(new int[] {9}, back.fds());
        byte[] b = m.encode();
        b[5] = (byte) (KeeperMessage.VERSION + 1); // a version from the future
        IOException e = assertThrows(IOException.class, () -> KeeperMessage.decode(b, new int[0]));
        assertTrue(e.getMessage().contains("version " + (KeeperMessage.VERSION + 1)), e.getMessage());
        assertThrows(IOException.class, () -> KeeperMessage.decode(Arrays.copyOf(b, 3), new int[0]));
    }
}
