package io.efuse.csi.volume;

import static org.junit.jupiter.api.Assertions.*;

import io.efuse.csi.fsd.DaemonThread;
import io.efuse.csi.fsd.FdKeeper;
import io.efuse.csi.fsd.KeeperMessage;
import io.efuse.csi.fsd.MountProbe;
import io.efuse.csi.sys.LinuxConstants;
import io.efuse.csi.sys.MountTable;
import io.efuse.csi.sys.SeqpacketSocket;
import io.efuse.csi.sys.Syscalls;
import io.efuse.csi.testing.BoundedWait;
import io.efuse.csi.testing.RequiresFuse;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Staging through the fd keeper with a real keeper and a daemon serving in this JVM: the session runs in the
 * daemon, a new keeper (a restarted node plugin) adopts it without mounting again, a mount left dead by both
 * processes is cleared and mounted afresh, and without a daemon calls fail within their bound.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
@RequiresFuse
class KeeperMounterTest {
    private static final Duration WAIT = Duration.ofSeconds(20);

    @TempDir
    Path dir;
    private Path socket;
    private Path stateRoot;
    private Path backing;
    private Path mountPoint;
    private FdKeeper keeper;
    private DaemonThread daemon;

    @BeforeEach
    void setUp() throws IOException {
        socket = dir.resolve("run/keeper.sock");
        stateRoot = dir.resolve("run");
        backing = Files.createDirectories(dir.resolve("backing"));
        mountPoint = Files.createDirectories(dir.resolve("staging"));
        Files.createDirectories(stateRoot);
        keeper = FdKeeper.start(socket);
    }

    @AfterEach
    void tearDown() throws Exception {
        if (keeper != null) {
            for (FdKeeper.Held h : keeper.held()) {
                keeper.unmount(h.volumeId(), WAIT);
            }
        }
        if (daemon != null) {
            daemon.close();
        }
        if (keeper != null) {
            keeper.close();
        }
        if (MountTable.isMountPoint(mountPoint)) {
            MountProbe.repair(mountPoint, Duration.ofSeconds(2));
        }
    }

    private MountSpec spec() {
        return new MountSpec("v-1", backing, mountPoint, "classic", false, false, ServedLimits.BY_KERNEL);
    }

    @Test
    void theNextKeeperAdoptsTheLiveSessionWithoutMountingAgain() throws Exception {
        daemon = DaemonThread.start(socket);
        MountedVolume v = new KeeperMounter(keeper, stateRoot, 2, WAIT).mount(spec());
        assertEquals(mountPoint, v.mountPoint());
        assertTrue(v.alive());
        assertFalse(v.readOnly());
        assertEquals("classic", v.tier());
        assertEquals(1, daemon.volumeCount(), "the daemon serves the session, not this process");
        Files.writeString(mountPoint.resolve("before"), "written before the restart");
        int connection = MountTable.find(mountPoint).orElseThrow().minor();

        // The node plugin restarts: its keeper goes, a new one listens on the same socket.
        keeper.close();
        assertEquals("written before the restart", Files.readString(mountPoint.resolve("before")),
                "the daemon still serves while no keeper listens");
        keeper = FdKeeper.start(socket);
        KeeperMounter next = new KeeperMounter(keeper, stateRoot, 2, WAIT);
        MountedVolume adopted = next.adopt("v-1", mountPoint).orElseThrow();
        assertEquals(mountPoint, adopted.mountPoint());
        assertTrue(adopted.alive());
        assertEquals(2, keeper.held("v-1").orElseThrow().fds().length, "both workers' device files are held again");
        assertEquals(connection, MountTable.find(mountPoint).orElseThrow().minor(), "the same connection");
        assertEquals(mountPoint, next.mount(spec()).mountPoint(), "staging again is the same session");
        assertEquals(connection, MountTable.find(mountPoint).orElseThrow().minor(), "still not mounted again");
        assertEquals("written before the restart", Files.readString(mountPoint.resolve("before")));

        adopted.close();
        assertFalse(MountTable.isMountPoint(mountPoint));
        assertEquals(0, daemon.volumeCount());
        assertTrue(next.adopt("v-1", mountPoint).isEmpty());
        assertEquals("written before the restart", Files.readString(backing.resolve("before")));
    }

    @Test
    void aHoldThroughTheKeeperStopsWritesInTheDaemonUntilItEnds() throws Exception {
        daemon = DaemonThread.start(socket);
        MountedVolume v = new KeeperMounter(keeper, stateRoot, 2, WAIT).mount(spec());
        Files.writeString(mountPoint.resolve("before"), "before the hold");
        java.util.concurrent.CompletableFuture<Void> write;
        try (WriteHold hold = v.holdWrites(Duration.ofSeconds(5), Duration.ofSeconds(60))) {
            assertEquals(0, hold.passthroughWriters(), "a classic mount writes only through its daemon");
            assertFalse(hold.writebackCache());
            write = java.util.concurrent.CompletableFuture.runAsync(() -> {
                try {
                    Files.writeString(mountPoint.resolve("during"), "held back");
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            assertEquals("before the hold", Files.readString(mountPoint.resolve("before")), "reads go on meanwhile");
            assertThrows(java.util.concurrent.TimeoutException.class, () -> write.get(1, TimeUnit.SECONDS),
                    "a write waits while the volume is held");
            assertFalse(Files.exists(backing.resolve("during")));
        }
        write.get(10, TimeUnit.SECONDS);
        assertEquals("held back", Files.readString(backing.resolve("during")), "the write went through at the end");

        WriteHold expired = v.holdWrites(Duration.ofSeconds(5), Duration.ofMillis(200));
        Thread.sleep(400);
        Files.writeString(mountPoint.resolve("after"), "a hold that ran out lets writes pass");
        VolumeException e = assertThrows(VolumeException.class, expired::close);
        assertEquals(VolumeException.Reason.BUSY, e.reason(), "ending a hold that ran out says so");
        v.close();
    }

    @Test
    void aMountLeftDeadByBothProcessesIsClearedAndMountedAfresh() throws Exception {
        daemon = DaemonThread.start(socket);
        new KeeperMounter(keeper, stateRoot, 1, WAIT).mount(spec());
        Files.writeString(mountPoint.resolve("kept"), "in the backing directory");
        // Both holders of the connection go: the daemon hands over to nobody, then the keeper exits.
        daemon.close();
        daemon = null;
        keeper.close();
        assertEquals(MountProbe.State.DEAD, MountProbe.probe(mountPoint, Duration.ofSeconds(5)));
        assertTrue(Files.isDirectory(stateRoot.resolve("v-1")), "the state directory is left behind");

        keeper = FdKeeper.start(socket);
        daemon = DaemonThread.start(socket);
        KeeperMounter mounter = new KeeperMounter(keeper, stateRoot, 1, WAIT);
        assertTrue(mounter.adopt("v-1", mountPoint).isEmpty(), "a dead mount is not adopted");
        MountedVolume v = mounter.mount(spec());
        assertTrue(v.alive());
        assertEquals(MountProbe.State.ALIVE, MountProbe.probe(mountPoint, Duration.ofSeconds(5)));
        assertEquals("in the backing directory", Files.readString(mountPoint.resolve("kept")));
    }

    @Test
    void withoutADaemonStagingFailsNotReadyWithinTheBound() throws Exception {
        KeeperMounter mounter = new KeeperMounter(keeper, stateRoot, 1, Duration.ofSeconds(1));
        assertTrue(mounter.adopt("v-1", mountPoint).isEmpty(), "nothing mounted, nothing to wait for");
        long t0 = System.nanoTime();
        VolumeException e = assertThrows(VolumeException.class, () -> mounter.mount(spec()));
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertEquals(VolumeException.Reason.NOT_READY, e.reason());
        assertTrue(e.getMessage().contains("no eFuse daemon") && e.getMessage().contains(socket.toString()),
                e.getMessage());
        assertTrue(ms >= 900 && ms < 10_000, "failed after " + ms + " ms");
        assertFalse(MountTable.isMountPoint(mountPoint));
    }

    @Test
    void unstagingWhileNoDaemonServesUnmountsThroughTheKeeper() throws Exception {
        daemon = DaemonThread.start(socket);
        MountedVolume v = new KeeperMounter(keeper, stateRoot, 1, Duration.ofSeconds(1)).mount(spec());
        daemon.close(); // hands over to nobody: the keeper holds the paused connection
        daemon = null;
        assertTrue(keeper.held("v-1").isPresent());
        v.close();
        assertFalse(MountTable.isMountPoint(mountPoint));
        assertTrue(keeper.held("v-1").isEmpty());
        assertFalse(Files.exists(stateRoot.resolve("v-1")), "its state is gone with it");
    }

    @Test
    void expandingAVolumeServedByADaemonOfProtocolOneFailsNotReadyAndSaysWhy() throws Exception {
        try (SeqpacketSocket old = SeqpacketSocket.connect(socket)) {
            // A version 1 daemon: no protocol in its HELLO, then the HOLD of the volume it serves.
            old.send(KeeperMessage.of(KeeperMessage.Type.HELLO, "pid", "4242", "volumes", "v-1").encode(), new int[0]);
            int fd = Syscalls.open(Path.of("/dev/null"), LinuxConstants.O_RDWR, 0);
            try {
                KeeperMessage hold = KeeperMessage.of(KeeperMessage.Type.HOLD, "volume", "v-1", "mountPoint",
                        mountPoint.toString(), "stateDir", stateRoot.resolve("v-1").toString()).withFds(new int[] {fd});
                old.send(hold.encode(), hold.fds());
            } finally {
                Syscalls.close(fd);
            }
            // the keeper's connection thread handles the HOLD
            BoundedWait.upTo(WAIT).until("the keeper to hold the old daemon's volume",
                    () -> keeper.held("v-1").isPresent());
            MountedVolume v = new KeeperMounter(keeper, stateRoot, 1, WAIT).adopt("v-1", null).orElseThrow();
            assertEquals("unknown (the daemon did not say)", v.tier());
            VolumeException e = assertThrows(VolumeException.class, () -> v.resize(new Limits(1 << 30, 0)));
            assertEquals(VolumeException.Reason.NOT_READY, e.reason());
            assertTrue(e.getMessage().contains("protocol 1") && e.getMessage().contains("upgrade efuse-csi fsd"),
                    e.getMessage());
        } finally {
            keeper.close();
            keeper = null;
        }
    }
}
