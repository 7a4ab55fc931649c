package io.efuse.csi.bpf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.efuse.csi.testing.RequiresBpf;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@RequiresBpf
class LibbpfTest {

    @TempDir
    Path dir;

    private BpfHost host;

    @BeforeEach
    void setUp() {
        host = BpfTestSupport.privateHost();
    }

    @AfterEach
    void tearDown() throws Exception {
        BpfTestSupport.removePins(host);
    }

    @Test
    void aBrokenObjectFailsWithLibbpfsOwnMessage() throws Exception {
        BpfException e = assertThrows(BpfException.class,
                () -> BpfObject.open(Libbpf.system(), "junk", new byte[] {0x7f, 'E', 'L', 'F', 1, 2, 3}));
        assertTrue(e.getMessage().startsWith("open BPF object junk: "), e.getMessage());
        assertTrue(e.errno() > 0);
        assertFalse(e.libbpfMessages().isEmpty(), "libbpf said why");
        assertTrue(e.getMessage().contains("libbpf: "), e.getMessage());
    }

    @Test
    void perCpuValuesAreReadAndWrittenPerCpu() throws Exception {
        try (FuseMonitor monitor = FuseMonitor.attach(host);
                BpfMap counters = BpfMap.openPinned(Libbpf.system(), monitor.pinDir().resolve("loss_counters"))) {
            assertEquals(BpfMapType.PERCPU_ARRAY, counters.type());
            assertEquals(Libbpf.system().numPossibleCpus(), counters.cpus());
            MapView<Integer, Long> view = new MapView<>(counters, MapCodec.U32, MapCodec.U64);
            view.putAllCpus(3, 7L);
            List<Long> perCpu = view.perCpu(3).orElseThrow();
            assertEquals(counters.cpus(), perCpu.size());
            assertTrue(perCpu.stream().allMatch(v -> v == 7L));
            assertEquals(7L * counters.cpus(), view.sum(3, Long::sum).orElseThrow());
            assertThrows(IllegalStateException.class, () -> view.get(3), "per-CPU maps have no single value");
            assertEquals(4, view.entriesPerCpu().size(), "an array has all its keys");
        }
    }

    @Test
    void hashMapViewsLookUpUpdateDeleteAndIterate() throws Exception {
        try (FuseMonitor monitor = FuseMonitor.attach(host);
                BpfMap loads = BpfMap.openPinned(Libbpf.system(), monitor.pinDir().resolve("connection_load"))) {
            assertEquals(BpfMapType.HASH, loads.type());
            assertEquals("connection_load", loads.name());
            MapView<Integer, ConnectionLoad> view = new MapView<>(loads, MapCodec.U32, ConnectionLoad.VALUE);
            int fake = 0x7ffffff0; // no real connection has this id
            view.put(fake, new ConnectionLoad(0, 3, 10, 7, 700));
            assertEquals(new ConnectionLoad(0, 3, 10, 7, 700), view.get(fake).orElseThrow());
            assertTrue(view.entries((a, b) -> a).containsKey(fake));
            assertTrue(view.remove(fake));
            assertFalse(view.remove(fake));
            assertTrue(view.get(fake).isEmpty());
            assertThrows(IllegalArgumentException.class,
                    () -> new MapView<>(loads, MapCodec.U64, ConnectionLoad.VALUE), "wrong key size is refused");
        }
    }

    @Test
    void withoutPermissionToLoadTheNodeSaysWhyAndFuseMountsStillWork() throws Exception {
        LibbpfNative real = Libbpf.system().lib();
        LibbpfNative denied = (LibbpfNative) Proxy.newProxyInstance(LibbpfNative.class.getClassLoader(),
                new Class<?>[] {LibbpfNative.class}, (proxy, method, args) -> {
                    if (method.getName().equals("bpf_object__load")) {
                        return -1; // -EPERM: what bpf(BPF_PROG_LOAD) gives a process without CAP_BPF
                    }
                    try {
                        return method.invoke(real, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
        BpfHost unprivileged = host.withLibbpf(() -> new Libbpf(denied));

        try (NodeMonitor node = NodeMonitor.start(unprivileged)) {
            assertTrue(node.monitor().isEmpty());
            String reason = node.unavailableReason().orElseThrow();
            assertTrue(reason.contains("CAP_BPF"), reason);
            assertTrue(reason.contains("Operation not permitted"), reason);
            assertTrue(reason.contains("load BPF object efuse_monitor"), reason);
        }
        assertFalse(Files.exists(host.pinRoot().resolve("monitor").resolve("link_fuse_request_send")));

        try (TestFuseMount mount = TestFuseMount.mount(dir)) {
            Files.writeString(mount.mountPoint.resolve("still-served"), "yes");
            assertEquals("yes", Files.readString(mount.backing.resolve("still-served")));
        }
    }

    @Test
    void aNodeWithoutBtfIsReportedAsSuch() {
        BpfHost noBtf = new BpfHost(host.libbpf(), dir.resolve("no-btf"), host.tracefs(), host.bpffs(),
                host.pinRoot(), host.mountinfo());
        try (NodeMonitor node = NodeMonitor.start(noBtf)) {
            assertTrue(node.unavailableReason().orElseThrow().contains("no BTF"));
        }
    }
}
