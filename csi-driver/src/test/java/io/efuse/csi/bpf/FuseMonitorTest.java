package io.efuse.csi.bpf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.efuse.csi.testing.BoundedWait;
import io.efuse.csi.testing.RequiresBpf;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@RequiresBpf
class FuseMonitorTest {

    private static final int N = 200;

    @TempDir
    Path dir;

    private BpfHost host;

    @BeforeEach
    void setUp() {
        host = BpfTestSupport.privateHost();
    }

    @AfterEach
    void tearDown() throws Exception {
        if (host != null) {
            BpfTestSupport.removePins(host);
        }
    }

    @Test
    void countsEveryStatReadWriteAndFailedLookupOfTheConnection() throws Exception {
        try (FuseMonitor monitor = FuseMonitor.attach(host); TestFuseMount mount = TestFuseMount.mount(dir)) {
            int conn = mount.connectionId();
            // files written behind the mount's back are not in its page cache: one READ each on first read
            for (int i = 0; i < N; i++) {
                Files.write(mount.backing.resolve("small-" + i), new byte[100]);
            }
            Path file = mount.mountPoint.resolve("data");
            Files.write(file, new byte[0]);

            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                Map<FuseOpKey, FuseOpStats> before = monitor.opStats();
                for (int i = 0; i < N; i++) {
                    ch.size(); // fstat: one GETATTR each, attributes never cached
                }
                Map<FuseOpKey, FuseOpStats> afterStats = monitor.opStats();
                for (int i = 0; i < N; i++) {
                    assertEquals(100, Files.readAllBytes(mount.mountPoint.resolve("small-" + i)).length);
                }
                Map<FuseOpKey, FuseOpStats> afterReads = monitor.opStats();
                ByteBuffer block = ByteBuffer.allocate(4096);
                for (int i = 0; i < N; i++) {
                    block.clear();
                    assertEquals(4096, ch.write(block, (long) i * 4096)); // write-through: one WRITE each
                }
                Map<FuseOpKey, FuseOpStats> afterWrites = monitor.opStats();

                assertEquals(N, delta(before, afterStats, conn, FuseOpcodes.GETATTR).count());
                FuseOpStats reads = delta(afterStats, afterReads, conn, FuseOpcodes.READ);
                assertEquals(N, reads.count());
                assertEquals(0, reads.errors());
                assertEquals((long) N * (16 + 100), reads.bytesOut(), "READ replies: header + the file's 100 bytes");
                FuseOpStats writes = delta(afterReads, afterWrites, conn, FuseOpcodes.WRITE);
                assertEquals(N, writes.count());
                assertEquals(0, writes.errors());
                assertEquals((long) N * (40 + 40 + 4096), writes.bytesIn(), "WRITE requests: headers + one block");
            }

            Map<FuseOpKey, FuseOpStats> beforeMissing = monitor.opStats();
            for (int i = 0; i < N; i++) {
                Path missing = mount.mountPoint.resolve("missing-" + i);
                assertFalse(Files.exists(missing));
            }
            FuseOpStats lookups = delta(beforeMissing, monitor.opStats(), conn, FuseOpcodes.LOOKUP);
            assertEquals(N, lookups.errors(), "every ENOENT lookup is an error");

            for (Map.Entry<FuseOpKey, FuseOpStats> e : monitor.opStats().entrySet()) {
                if (e.getKey().connection() == conn) {
                    assertEquals(e.getValue().count(), e.getValue().histogramTotal(),
                            "histogram total of " + FuseOpcodes.name(e.getKey().opcode()));
                }
            }
            for (int op : new int[] {FuseOpcodes.LOOKUP, FuseOpcodes.GETATTR, FuseOpcodes.READ, FuseOpcodes.WRITE}) {
                FuseOpStats total = monitor.opStats().getOrDefault(new FuseOpKey(conn, op), FuseOpStats.ZERO);
                assertEquals(mount.mount.requests(op), total.count(),
                        "the monitor and the daemon agree on " + FuseOpcodes.name(op) + " requests");
            }
            ConnectionLoad load = monitor.connectionLoads().get(conn);
            assertEquals(0, load.inFlight(), "nothing is in flight once the syscalls returned");
            assertEquals(load.sent(), load.ended());
            assertTrue(load.sent() >= 4L * N);
            long[] perCpu = monitor.cpuInFlight(); // node-wide: other FUSE filesystems may have requests in flight
            assertEquals(Libbpf.system().numPossibleCpus(), perCpu.length);
            assertTrue(java.util.Arrays.stream(perCpu).allMatch(n -> n >= 0), java.util.Arrays.toString(perCpu));
        }
    }

    @Test
    void countersContinueWhenTheLoaderRestartsOrReattaches() throws Exception {
        try (TestFuseMount mount = TestFuseMount.mount(dir)) {
            int conn = mount.connectionId();
            Path file = mount.mountPoint.resolve("f");
            Files.writeString(file, "x");
            try (FileChannel ch = FileChannel.open(file)) {
                long first;
                try (FuseMonitor monitor = FuseMonitor.attach(host)) {
                    statTimes(ch, N);
                    first = getattrCount(monitor, conn);
                    assertEquals(N, first);
                }
                // a second loader (restarted process) finds the pinned monitor and its counters
                try (FuseMonitor monitor = FuseMonitor.attach(host)) {
                    assertEquals(first, getattrCount(monitor, conn));
                    statTimes(ch, N);
                    assertEquals(first + N, getattrCount(monitor, conn));
                }
                // programs gone (e.g. another build unpinned them): the next loader re-attaches over the pinned maps
                Path pinDir = host.pinRoot().resolve("monitor");
                Libbpf libbpf = host.libbpf().load();
                for (String p : FuseMonitor.PROGRAMS) {
                    try (BpfLink link = BpfLink.openPinned(libbpf, pinDir.resolve("link_" + p))) {
                        link.unpin();
                    }
                }
                try (FuseMonitor monitor = FuseMonitor.attach(host)) {
                    assertEquals(first + N, getattrCount(monitor, conn), "counters survived the re-attach");
                    statTimes(ch, N);
                    assertEquals(first + 2L * N, getattrCount(monitor, conn));
                }
            }
        }
    }

    @Test
    void anotherBuildsProgramsAreReplacedAndItsCountersKept() throws Exception {
        try (TestFuseMount mount = TestFuseMount.mount(dir); FileChannel ch = openFile(mount)) {
            int conn = mount.connectionId();
            Path pinDir = host.pinRoot().resolve("monitor");
            try (FuseMonitor monitor = FuseMonitor.attach(host)) {
                statTimes(ch, N);
                assertEquals(N, getattrCount(monitor, conn));
            }
            // pretend the pinned programs came from another build of the object
            Libbpf libbpf = host.libbpf().load();
            try (BpfMap config = BpfMap.openPinned(libbpf, pinDir.resolve("monitor_config"))) {
                byte[] v = config.lookup(new byte[4]).orElseThrow();
                java.util.Arrays.fill(v, 8, 16, (byte) 0x5a);
                config.update(new byte[4], v, BpfMap.BPF_ANY);
            }
            long oldSendLinkId = linkId(pinDir.resolve("link_fuse_request_send"));
            try (FuseMonitor monitor = FuseMonitor.attach(host)) {
                assertTrue(linkId(pinDir.resolve("link_fuse_request_send")) != oldSendLinkId, "programs replaced");
                assertEquals(N, getattrCount(monitor, conn), "counters kept");
                statTimes(ch, N);
                assertEquals(2L * N, getattrCount(monitor, conn), "counted once: the old programs are gone");
            }
        }
    }

    @Test
    void mapsPinnedWithAnotherLayoutAreRecreated() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/sbin/bpftool")), "bpftool is not installed");
        Path pinDir = Files.createDirectories(host.pinRoot().resolve("monitor"));
        Process p = new ProcessBuilder("/usr/sbin/bpftool", "map", "create", pinDir.resolve("request_stats").toString(),
                "type", "hash", "key", "8", "value", "8", "entries", "16", "name", "request_stats")
                .redirectErrorStream(true).start();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0, new String(p.getInputStream().readAllBytes()));
        try (FuseMonitor _ = FuseMonitor.attach(host);
                BpfMap stats = BpfMap.openPinned(host.libbpf().load(), pinDir.resolve("request_stats"))) {
            assertEquals(FuseOpStats.CODEC.size(), stats.valueSize());
            assertEquals(BpfMapType.PERCPU_HASH, stats.type());
        }
    }

    @Test
    void recordsRequestsOverTheSlowThresholdInTheRingBuffer() throws Exception {
        try (FuseMonitor monitor = FuseMonitor.attach(host); TestFuseMount mount = TestFuseMount.mount(dir)) {
            int conn = mount.connectionId();
            Path file = mount.mountPoint.resolve("f");
            Files.writeString(file, "x");
            List<SlowRequest> seen = new CopyOnWriteArrayList<>();
            CountDownLatch got = new CountDownLatch(1);
            monitor.setSlowThreshold(Duration.ofNanos(1));
            assertEquals(Duration.ofNanos(1), monitor.slowThreshold());
            try (RingBufferPoller _ = monitor.pollSlowRequests(r -> {
                if (r.connection() == conn && r.opcode() == FuseOpcodes.GETATTR) {
                    seen.add(r);
                    got.countDown();
                }
            })) {
                try (FileChannel ch = FileChannel.open(file)) {
                    ch.size();
                }
                assertTrue(got.await(10, TimeUnit.SECONDS), "a GETATTR record arrives");
            } finally {
                monitor.setSlowThreshold(Duration.ZERO);
            }
            SlowRequest r = seen.getFirst();
            assertTrue(r.latencyNs() >= 1);
            assertEquals("getattr", r.opcodeName());
            assertEquals(ProcessHandle.current().pid(), r.pid());
        }
    }

    @Test
    void openPinnedSaysWhenNoMonitorIsAttached() {
        BpfUnavailableException e = org.junit.jupiter.api.Assertions.assertThrows(BpfUnavailableException.class,
                () -> FuseMonitor.openPinned(host));
        assertTrue(e.getMessage().contains("not attached"), e.getMessage());
    }

    private static FileChannel openFile(TestFuseMount mount) throws Exception {
        Path file = mount.mountPoint.resolve("f");
        Files.writeString(file, "x");
        return FileChannel.open(file);
    }

    private static long linkId(Path pin) throws Exception {
        Process p = new ProcessBuilder("/usr/sbin/bpftool", "link", "show", "pinned", pin.toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0, out);
        return Long.parseLong(out.substring(0, out.indexOf(':')).trim());
    }

    private static void statTimes(FileChannel ch, int n) throws Exception {
        for (int i = 0; i < n; i++) {
            ch.size(); // fstat: one GETATTR each, attributes never cached
        }
    }

    private static long getattrCount(FuseMonitor monitor, int conn) {
        return monitor.opStats().getOrDefault(new FuseOpKey(conn, FuseOpcodes.GETATTR), FuseOpStats.ZERO).count();
    }

    private static FuseOpStats delta(Map<FuseOpKey, FuseOpStats> before, Map<FuseOpKey, FuseOpStats> after, int conn,
            int opcode) {
        FuseOpKey k = new FuseOpKey(conn, opcode);
        return after.getOrDefault(k, FuseOpStats.ZERO).minus(before.getOrDefault(k, FuseOpStats.ZERO));
    }


    /** fuse_opcode FUSE_RELEASE. */
    private static final int FUSE_RELEASE = 18;

    @Test
    void figuresLeftByAnEarlierConnectionWithTheSameIdAreDropped() throws Exception {
        try (FuseMonitor monitor = FuseMonitor.attach(host); TestFuseMount mount = TestFuseMount.mount(dir)) {
            int conn = mount.connectionId();
            Files.write(mount.mountPoint.resolve("f"), new byte[10]);
            assertTrue(monitor.connectionLoad(conn).isPresent(), "the mount's requests were counted");
            // The kernel sends RELEASE after close returns: until it has been answered, a request of this connection
            // may still arrive after the figures are dropped below.
            FuseOpKey release = new FuseOpKey(conn, FUSE_RELEASE);
            BoundedWait.upTo(Duration.ofSeconds(10)).every(Duration.ofMillis(5)).until("the write's RELEASE"
                    + " to be answered", () -> monitor.opStats().getOrDefault(release, FuseOpStats.ZERO).count() != 0
                            && monitor.connectionLoad(conn).orElseThrow().inFlight() == 0);
            // What an aborted connection with this id leaves: requests that never ended.
            try (BpfMap load = BpfMap.openPinned(host.libbpf().load(), monitor.pinDir().resolve("connection_load"));
                    BpfMap inflight = BpfMap.openPinned(host.libbpf().load(), monitor.pinDir().resolve("inflight"))) {
                ByteBuffer stale = ByteBuffer.allocate(load.valueSize()).order(java.nio.ByteOrder.nativeOrder());
                stale.putLong(0, 30_541).putLong(8, 40_000).putLong(16, 9_459);
                byte[] key = ByteBuffer.allocate(4).order(java.nio.ByteOrder.nativeOrder()).putInt(0, conn).array();
                load.update(key, stale.array(), BpfMap.BPF_ANY);
                byte[] request = ByteBuffer.allocate(inflight.keySize()).order(java.nio.ByteOrder.nativeOrder())
                        .putInt(0, conn).putLong(8, 987_654_321L).array();
                inflight.update(request, new byte[inflight.valueSize()], BpfMap.BPF_ANY);
                assertEquals(30_541, monitor.connectionLoad(conn).orElseThrow().inFlight());

                monitor.forgetConnection(conn);

                assertTrue(monitor.connectionLoad(conn).isEmpty());
                assertTrue(inflight.lookup(request).isEmpty(), "the stale request is still tracked");
                assertTrue(monitor.opStats().keySet().stream().noneMatch(k -> k.connection() == conn));
            }
            Files.readAllBytes(mount.mountPoint.resolve("f"));
            Files.size(mount.mountPoint.resolve("f"));
            assertEquals(0, monitor.connectionLoad(conn).orElseThrow().inFlight(), "idle connection, nothing in flight");
        }
    }
}
