package io.efuse.csi.fsd;

import static org.junit.jupiter.api.Assertions.*;

import io.efuse.csi.fs.EfuseMount;
import io.efuse.csi.fs.MountOptions;
import io.efuse.csi.fs.Tier;
import io.efuse.csi.sys.LibC;
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
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The keeper and daemons in this JVM: the keeper holds every device file a daemon reads from, also those of
 * workers added while the volume is served; limits changed on a live volume reach the daemon and stay for the
 * daemon that takes over; a daemon of protocol version 1 is told clearly that it cannot resize.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
@RequiresFuse
class FdKeeperTest {
    private static final Duration BOUND = Duration.ofSeconds(30);
    private static final BoundedWait WAIT = BoundedWait.upTo(BOUND);
    private static final long SYS_KCMP = 312; // x86_64
    private static final int KCMP_FILE = 0;

    @TempDir
    Path dir;
    private Path socket;
    private FdKeeper keeper;
    private DaemonThread daemon;
    private DaemonThread standby;

    @BeforeEach
    void start() throws IOException {
        socket = dir.resolve("keeper.sock");
        keeper = FdKeeper.start(socket);
    }

    @AfterEach
    void stop() throws Exception {
        if (keeper != null) {
            for (FdKeeper.Held h : keeper.held()) {
                keeper.unmount(h.volumeId(), BOUND);
            }
        }
        if (daemon != null) {
            daemon.close();
        }
        if (standby != null) {
            standby.close();
        }
        if (keeper != null) {
            keeper.close();
        }
    }

    private Path mount(String id, long maxBytes) throws Exception {
        Path backing = Files.createDirectories(dir.resolve("backing-" + id));
        Path mnt = Files.createDirectories(dir.resolve("mnt-" + id));
        daemon = daemon == null ? DaemonThread.start(socket) : daemon;
        keeper.mount(id, MountOptions.builder(backing, mnt).tier(Tier.CLASSIC).workers(1)
                .limits(maxBytes, 0).timeouts(Duration.ofSeconds(60)).build(), dir.resolve("state").resolve(id), BOUND);
        return mnt;
    }

    /** Whether t is in FsDaemon.handOver's own Object.wait, the wait for a keeper (detaching waits elsewhere). */
    private static boolean waitingForAKeeper(Thread t) {
        StackTraceElement[] stack = t.getStackTrace();
        for (int i = 0; i + 1 < stack.length; i++) {
            if (stack[i].getClassName().equals("java.lang.Object") && stack[i].getMethodName().startsWith("wait")
                    && stack[i + 1].getClassName().equals(FsDaemon.class.getName())
                    && stack[i + 1].getMethodName().equals("handOver")) {
                return true;
            }
        }
        return false;
    }

    /** Whether two descriptors of this process refer to the same open file (kcmp KCMP_FILE). */
    private static boolean sameFile(int a, int b) {
        long pid = LibC.getpid();
        return LibC.syscall(SYS_KCMP, pid, pid, KCMP_FILE, a, b, 0) == 0;
    }

    private static boolean keeperHoldsEvery(int[] daemonFds, int[] keeperFds) {
        if (daemonFds.length != keeperFds.length) {
            return false;
        }
        for (int d : daemonFds) {
            boolean found = false;
            for (int k : keeperFds) {
                found |= sameFile(d, k);
            }
            if (!found) {
                return false;
            }
        }
        return true;
    }

    @Test
    void workersAddedAndRetiredWhileServingChangeWhatTheKeeperHolds() throws Exception {
        Path mnt = mount("grow", 0);
        EfuseMount mount = daemon.daemon().mount("grow");
        assertEquals(1, keeper.held("grow").orElseThrow().fds().length);
        assertTrue(keeperHoldsEvery(mount.deviceFds(), keeper.held("grow").orElseThrow().fds()));

        AtomicInteger want = new AtomicInteger(4);
        mount.scaleWorkers(current -> want.get(), 1, 4);
        WAIT.until("the keeper to hold the 4 workers' device files", () ->
                keeperHoldsEvery(mount.deviceFds(), keeper.held("grow").orElseThrow().fds())
                        && keeper.held("grow").orElseThrow().fds().length == 4);

        // Retiring workers leave after their next request: keep requests coming until they are gone.
        want.set(1);
        AtomicBoolean stop = new AtomicBoolean();
        Thread load = Thread.ofPlatform().daemon(true).start(() -> {
            for (int i = 0; !stop.get(); i++) {
                try {
                    Files.writeString(mnt.resolve("f" + (i % 8)), "x" + i);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }
        });
        try {
            WAIT.until("the keeper to let the retired workers' device files go", () ->
                    keeper.held("grow").orElseThrow().fds().length == 1
                            && keeperHoldsEvery(mount.deviceFds(), keeper.held("grow").orElseThrow().fds()));
        } finally {
            stop.set(true);
            load.join(BOUND);
        }
        assertEquals("x", Files.readString(mnt.resolve("f0")).substring(0, 1));
    }

    @Test
    void limitsChangedOnALiveVolumeStayWhenTheNextDaemonTakesOver() throws Exception {
        Path mnt = mount("sized", 4 << 20);
        assertEquals(4 << 20, Files.getFileStore(mnt).getTotalSpace());
        keeper.resize("sized", 16 << 20, 0, BOUND);
        assertEquals(16 << 20, Files.getFileStore(mnt).getTotalSpace(), "the live mount grew");

        long connection = MountTable.find(mnt).orElseThrow().minor();
        standby = DaemonThread.start(socket);
        WAIT.until("the second daemon to wait on standby", () -> standby.daemon().standby());
        daemon.close();
        daemon = standby;
        standby = null;
        WAIT.until("the standby daemon to serve the volume", () -> daemon.volumeCount() == 1);
        assertEquals(connection, MountTable.find(mnt).orElseThrow().minor(), "the same connection, not a new mount");
        assertEquals(16 << 20, Files.getFileStore(mnt).getTotalSpace(), "the new daemon enforces the new size");
        Files.write(mnt.resolve("big"), new byte[8 << 20]);
        assertEquals(8 << 20, Files.size(mnt.resolve("big")));
    }

    @Test
    void aTierChangedOnALiveVolumeServesTheFilesOpenedAfterItAndStaysWithTheNextDaemon() throws Exception {
        Path backing = Files.createDirectories(dir.resolve("backing-tier"));
        Path mnt = Files.createDirectories(dir.resolve("mnt-tier"));
        for (String f : new String[] {"before", "after", "taken-over"}) {
            Files.writeString(backing.resolve(f), "data of " + f);
        }
        daemon = DaemonThread.start(socket);
        keeper.mount("tier", MountOptions.builder(backing, mnt).workers(1).build(), dir.resolve("state/tier"), BOUND);
        EfuseMount mount = daemon.daemon().mount("tier");
        org.junit.jupiter.api.Assumptions.assumeTrue(mount.tier() == Tier.PASSTHROUGH,
                "this kernel offers no FUSE passthrough");
        long reads = mount.requests(io.efuse.csi.fuse.FuseOpcode.READ);
        assertEquals("data of before", Files.readString(mnt.resolve("before")));
        assertEquals(reads, mount.requests(io.efuse.csi.fuse.FuseOpcode.READ), "passthrough: no READ to the daemon");

        // A classic session would negotiate the writeback cache asked for here: that part waits.
        assertEquals(new io.efuse.csi.fs.LiveChange(Tier.CLASSIC, false, true),
                keeper.modify("tier", Tier.CLASSIC, true, BOUND));
        assertEquals("classic", keeper.held("tier").orElseThrow().tier());
        assertEquals("data of after", Files.readString(mnt.resolve("after")));
        assertTrue(mount.requests(io.efuse.csi.fuse.FuseOpcode.READ) > reads, "the daemon reads files opened now");

        long connection = MountTable.find(mnt).orElseThrow().minor();
        standby = DaemonThread.start(socket);
        WAIT.until("the second daemon to wait on standby", () -> standby.daemon().standby());
        daemon.close();
        daemon = standby;
        standby = null;
        WAIT.until("the standby daemon to serve the volume", () -> daemon.volumeCount() == 1);
        assertEquals(connection, MountTable.find(mnt).orElseThrow().minor(), "the same connection, not a new mount");
        EfuseMount next = daemon.daemon().mount("tier");
        assertEquals(Tier.CLASSIC, next.tier(), "the tier was kept in the volume's state");
        assertEquals("classic", keeper.held("tier").orElseThrow().tier());
        long nextReads = next.requests(io.efuse.csi.fuse.FuseOpcode.READ);
        assertEquals("data of taken-over", Files.readString(mnt.resolve("taken-over")));
        assertTrue(next.requests(io.efuse.csi.fuse.FuseOpcode.READ) > nextReads);
    }

    @Test
    void aDaemonOfProtocolVersionTwoIsToldThatItCannotChangeALiveVolume() throws Exception {
        try (SeqpacketSocket old = SeqpacketSocket.connect(socket)) {
            old.send(KeeperMessage.of(KeeperMessage.Type.HELLO, "pid", "4243", "volumes", "", "protocol", "2")
                    .encode(), new int[0]);
            int fd = Syscalls.open(Path.of("/dev/null"), io.efuse.csi.sys.LinuxConstants.O_RDWR, 0);
            try {
                KeeperMessage hold = KeeperMessage.of(KeeperMessage.Type.HOLD, "volume", "v2", "mountPoint",
                        dir.toString(), "stateDir", dir.resolve("state/v2").toString()).withFds(new int[] {fd});
                old.send(hold.encode(), hold.fds());
            } finally {
                Syscalls.close(fd);
            }
            WAIT.until("the keeper to hold the old daemon's volume", () -> keeper.held("v2").isPresent());
            IOException e = assertThrows(IOException.class, () -> keeper.modify("v2", Tier.CLASSIC, false, BOUND));
            assertTrue(e.getMessage().contains("protocol 2") && e.getMessage().contains("upgrade efuse-csi fsd"),
                    e.getMessage());
        } finally {
            keeper.close();
            keeper = null;
        }
    }

    /** Seen in a real cluster: helm upgrade rolls the node plugin and the daemon at once, and pods saw ENOTCONN. */
    @Test
    void aDaemonHandingOverWhileNoKeeperListensWaitsForTheNextKeeperAndLosesNoConnection() throws Exception {
        Path mnt = mount("upgrade", 0);
        Files.writeString(mnt.resolve("before"), "kept");
        long connection = MountTable.find(mnt).orElseThrow().minor();
        standby = DaemonThread.start(socket);
        WAIT.until("the second daemon to wait on standby", () -> standby.daemon().standby());

        keeper.close(); // the node plugin's pod is replaced: for a while no keeper holds the descriptors
        keeper = null;
        DaemonThread old = daemon;
        WAIT.until("the serving daemon to see its keeper go", () -> !old.daemon().connected());
        AtomicReference<Long> handedOver = new AtomicReference<>();
        Thread sigterm = Thread.ofPlatform().daemon(true).start(() -> handedOver.set(old.daemon().handOver()));
        // the daemon's own pod is replaced meanwhile: SIGTERM before the new keeper listens. Only a handover seen
        // in its wait for a keeper shows that it waits, rather than has not got there yet or is detaching.
        WAIT.until("the handover to wait for a keeper", () -> waitingForAKeeper(sigterm));
        assertNull(handedOver.get(), "the handover waits while it holds the only descriptors");

        keeper = FdKeeper.start(socket);
        sigterm.join(BOUND);
        assertNotNull(handedOver.get(), "the handover ends once the new keeper holds the volume");
        daemon = standby;
        standby = null;
        WAIT.until("the standby daemon to serve the volume", () -> daemon.volumeCount() == 1);
        assertEquals(connection, MountTable.find(mnt).orElseThrow().minor(), "the same connection, not a new mount");
        assertEquals("kept", Files.readString(mnt.resolve("before")));
        Files.writeString(mnt.resolve("after"), "served");
        assertEquals("served", Files.readString(mnt.resolve("after")));
        old.close();
    }

    /**
     * The other order of the upgrade above, seen in the real cluster: the new idle daemon reaches the restarted keeper
     * first, and the old one sends its HELLO, its HOLDs and DETACHED at once and shuts its side, so that the keeper's
     * STANDBY to it fails. Its descriptors, queued behind the failed reply, still reach the serving daemon.
     */
    @Test
    void volumesOfADaemonThatHandsOverOnReachingARestartedKeeperGoToTheDaemonServingThere() throws Exception {
        try (KeeperLink idle = new KeeperLink(SeqpacketSocket.connect(socket))) {
            idle.send(KeeperMessage.of(KeeperMessage.Type.HELLO, "pid", "1001", "volumes", "", "protocol", "2"));
            WAIT.until("the idle daemon to serve", () -> keeper.awaitDaemon(Duration.ZERO));
            int fd = Syscalls.open(Path.of("/dev/null"), io.efuse.csi.sys.LinuxConstants.O_RDWR, 0);
            try (KeeperLink old = new KeeperLink(SeqpacketSocket.connect(socket))) {
                old.send(KeeperMessage.of(KeeperMessage.Type.HELLO, "pid", "1000", "volumes", "kept", "protocol", "2"));
                old.send(KeeperMessage.of(KeeperMessage.Type.HOLD, "volume", "kept", "mountPoint", dir.toString(),
                        "stateDir", dir.resolve("state/kept").toString()).withFds(new int[] {fd}));
                old.send(KeeperMessage.of(KeeperMessage.Type.DETACHED));
                old.shutdown();
            } finally {
                Syscalls.close(fd);
            }
            KeeperMessage adopt = idle.receive();
            assertNotNull(adopt, "the keeper closed the serving daemon's link");
            try {
                assertEquals(KeeperMessage.Type.ADOPT, adopt.type());
                assertEquals("kept", adopt.get("volume"));
                assertEquals(1, adopt.fds().length, "the old daemon's descriptor, held by the keeper meanwhile");
            } finally {
                for (int f : adopt.fds()) {
                    Syscalls.close(f);
                }
            }
        } finally {
            keeper.close();
            keeper = null;
        }
    }

    /** Seen in a real cluster: after the kill -9 tests, helm uninstall left a volume's /run/efuse directory. */
    @Test
    void unmountingThroughTheKeeperRemovesTheVolumesStateWhateverElseWasLeftInIt() throws Exception {
        Path mnt = mount("done", 0);
        Files.writeString(mnt.resolve("f"), "x");
        Path state = dir.resolve("state").resolve("done");
        Files.writeString(state.resolve("left-by-another-daemon"), "x");
        keeper.unmount("done", BOUND);
        assertFalse(MountTable.isMountPoint(mnt), "unmounted");
        assertFalse(Files.exists(state), "the state directory went with the volume");
    }

    @Test
    void aDaemonOfProtocolVersionOneIsToldThatItCannotResize() throws Exception {
        try (SeqpacketSocket old = SeqpacketSocket.connect(socket)) {
            // What a version 1 daemon says: no protocol field in its HELLO.
            old.send(KeeperMessage.of(KeeperMessage.Type.HELLO, "pid", "4242", "volumes", "").encode(), new int[0]);
            int fd = Syscalls.open(Path.of("/dev/null"), io.efuse.csi.sys.LinuxConstants.O_RDWR, 0);
            try {
                KeeperMessage hold = KeeperMessage.of(KeeperMessage.Type.HOLD, "volume", "old", "mountPoint",
                        dir.toString(), "stateDir", dir.resolve("state/old").toString()).withFds(new int[] {fd});
                old.send(hold.encode(), hold.fds());
            } finally {
                Syscalls.close(fd);
            }
            WAIT.until("the keeper to hold the old daemon's volume", () -> keeper.held("old").isPresent());
            IOException e = assertThrows(IOException.class, () -> keeper.resize("old", 1 << 30, 0, BOUND));
            assertTrue(e.getMessage().contains("protocol 1") && e.getMessage().contains("upgrade efuse-csi fsd"),
                    e.getMessage());
        } finally {
            keeper.close();
            keeper = null;
        }
    }

    @Test
    void messagesCarryTheVersionOfTheirTypeSoThatVersionOnePeersReadTheOldOnes() throws Exception {
        byte[] hold = KeeperMessage.of(KeeperMessage.Type.HOLD, "volume", "v").encode();
        assertEquals(1, ((hold[4] & 0xff) << 8) | (hold[5] & 0xff), "HOLD is a version 1 message");
        byte[] resize = KeeperMessage.of(KeeperMessage.Type.RESIZE, "volume", "v", "maxBytes", "1").encode();
        assertEquals(2, ((resize[4] & 0xff) << 8) | (resize[5] & 0xff), "RESIZE came with version 2");
        assertEquals(KeeperMessage.Type.RESIZE, KeeperMessage.decode(resize, new int[0]).type());
        byte[] modify = KeeperMessage.of(KeeperMessage.Type.MODIFY, "volume", "v", "tier", "classic").encode();
        assertEquals(3, ((modify[4] & 0xff) << 8) | (modify[5] & 0xff), "MODIFY came with version 3");
        // A RESIZE that claims version 1 is not a message of version 1.
        resize[5] = 1;
        IOException e = assertThrows(IOException.class, () -> KeeperMessage.decode(resize, new int[0]));
        assertTrue(e.getMessage().contains("unknown fd keeper message type"), e.getMessage());
    }
}
