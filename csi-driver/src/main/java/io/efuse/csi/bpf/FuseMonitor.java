package io.efuse.csi.bpf;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's FUSE request monitor (bpf/efuse_monitor.bpf.c) and typed readings of its maps.
 *
 * <p>The monitor is node state, not process state: its maps and its two tracepoint links are pinned under
 * {@code <pinRoot>/monitor/}, so every process that serves eFuse volumes on the node ({@link #attach}) finds it
 * already running and only opens the maps, and its counters continue across restarts of those processes. A jar with
 * a different build of the object replaces the pinned programs. {@link #detach} removes it from the node.
 */
public final class FuseMonitor implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(FuseMonitor.class);
    public static final String OBJECT_RESOURCE = "/bpf/efuse_monitor.bpf.o";
    static final String OBJECT_NAME = "efuse_monitor";
    static final List<String> PROGRAMS = List.of("fuse_request_send", "fuse_request_end");
    static final List<String> MAPS = List.of("request_stats", "connection_load", "cpu_in_flight", "inflight",
            "slow_requests", "monitor_config", "loss_counters");
    private static final int CONFIG_SIZE = 16;

    private final Libbpf libbpf;
    private final Path pinDir;
    private final MapView<FuseOpKey, FuseOpStats> requestStats;
    private final MapView<Integer, ConnectionLoad> connectionLoad;
    private final MapView<Integer, Long> cpuInFlight;
    private final MapView<Integer, Long> lossCounters;
    private final BpfMap config;
    private final BpfMap slowRequests;
    private final BpfMap inflight;
    private final List<BpfMap> owned;
    private final int cpus;

    private FuseMonitor(Libbpf libbpf, Path pinDir) {
        this.libbpf = libbpf;
        this.pinDir = pinDir;
        this.owned = new ArrayList<>();
        try {
            this.requestStats = new MapView<>(open("request_stats"), FuseOpKey.CODEC, FuseOpStats.CODEC);
            this.connectionLoad = new MapView<>(open("connection_load"), MapCodec.U32, ConnectionLoad.VALUE);
            this.cpuInFlight = new MapView<>(open("cpu_in_flight"), MapCodec.U32, MapCodec.U64);
            this.lossCounters = new MapView<>(open("loss_counters"), MapCodec.U32, MapCodec.U64);
            this.config = open("monitor_config");
            this.slowRequests = open("slow_requests");
            this.inflight = open("inflight");
            this.cpus = libbpf.numPossibleCpus();
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    private BpfMap open(String name) {
        BpfMap m = BpfMap.openPinned(libbpf, pinDir.resolve(name));
        owned.add(m);
        return m;
    }

    /**
     * Makes sure the monitor runs on this node (loading and attaching it, or finding it pinned) and opens its maps.
     *
     * @throws BpfUnavailableException with the reason when this node or process cannot run it
     */
    public static FuseMonitor attach(BpfHost host) throws BpfUnavailableException {
        host.requireBtf();
        for (String tp : PROGRAMS) {
            host.requireTracepoint("fuse", tp);
        }
        host.requireBpffs();
        Libbpf libbpf = host.libbpf().load();
        byte[] elf = objectBytes();
        long digest = digest(elf);
        Path pinDir = host.pinRoot().resolve("monitor");
        try (PinLock _ = PinLock.acquire(host.pinRoot())) {
            Files.createDirectories(pinDir);
            if (linksPinned(pinDir) && pinnedDigest(libbpf, pinDir) == digest) {
                LOG.debug("FUSE monitor already attached (pinned at {})", pinDir);
            } else {
                load(libbpf, pinDir, elf, digest);
            }
            return new FuseMonitor(libbpf, pinDir);
        } catch (BpfException e) {
            throw new BpfUnavailableException(reason(e), e);
        } catch (IOException e) {
            throw new BpfUnavailableException("cannot use the pin directory " + pinDir + ": " + e, e);
        }
    }

    /** Opens the maps of a monitor some process attached (for readers such as {@code efuse-csi status}). */
    public static FuseMonitor openPinned(BpfHost host) throws BpfUnavailableException {
        Path pinDir = host.pinRoot().resolve("monitor");
        if (!linksPinned(pinDir)) {
            throw new BpfUnavailableException("the FUSE monitor is not attached on this node (no pins in " + pinDir
                    + "); a node plugin, `efuse-csi mount` or `efuse-csi monitor attach` attaches it");
        }
        try {
            return new FuseMonitor(host.libbpf().load(), pinDir);
        } catch (BpfException e) {
            throw new BpfUnavailableException(reason(e), e);
        }
    }

    /** Detaches the monitor from the node and removes its pins (counters are lost). @return false if absent */
    public static boolean detach(BpfHost host) throws BpfUnavailableException {
        Path pinDir = host.pinRoot().resolve("monitor");
        if (!Files.isDirectory(pinDir)) {
            return false;
        }
        Libbpf libbpf = host.libbpf().load();
        try (PinLock _ = PinLock.acquire(host.pinRoot())) {
            unpinLinks(libbpf, pinDir);
            for (String m : MAPS) {
                Files.deleteIfExists(pinDir.resolve(m));
            }
            Files.deleteIfExists(pinDir);
            return true;
        } catch (IOException e) {
            throw new UncheckedIOException("detach FUSE monitor: remove pins in " + pinDir, e);
        }
    }

    private static void load(Libbpf libbpf, Path pinDir, byte[] elf, long digest) throws IOException {
        unpinLinks(libbpf, pinDir); // an older build's programs, if any
        try {
            loadAndPin(libbpf, pinDir, elf, digest);
        } catch (BpfException e) {
            if (e.libbpfMessages().stream().noneMatch(m -> m.contains("reuse pinned map"))) {
                throw e;
            }
            // the pinned maps have another layout (older build): start them afresh
            LOG.warn("FUSE monitor maps pinned in {} do not fit this build; recreating them (counters restart)",
                    pinDir);
            for (String m : MAPS) {
                Files.deleteIfExists(pinDir.resolve(m));
            }
            loadAndPin(libbpf, pinDir, elf, digest);
        }
    }

    private static void loadAndPin(Libbpf libbpf, Path pinDir, byte[] elf, long digest) {
        try (BpfObject obj = BpfObject.open(libbpf, OBJECT_NAME, elf)) {
            for (BpfObject.ObjectMap m : obj.maps()) {
                m.setPinPath(pinDir.resolve(m.name()).toString());
            }
            obj.load();
            BpfMap config = obj.map("monitor_config").view();
            byte[] value = config.lookup(new byte[4]).orElse(new byte[CONFIG_SIZE]);
            ByteBuffer.wrap(value).order(java.nio.ByteOrder.nativeOrder()).putLong(8, digest);
            config.update(new byte[4], value, BpfMap.BPF_ANY);
            List<BpfLink> links = new ArrayList<>();
            try {
                for (String p : PROGRAMS) {
                    BpfProgram prog = obj.program(p).orElseThrow(
                            () -> new IllegalStateException(OBJECT_RESOURCE + " has no program " + p));
                    BpfLink link = prog.attach();
                    links.add(link);
                    link.pin(pinDir.resolve("link_" + p));
                }
            } catch (RuntimeException e) {
                for (BpfLink l : links) {
                    try {
                        l.unpin();
                    } catch (RuntimeException suppressed) {
                        e.addSuppressed(suppressed);
                    }
                }
                throw e;
            } finally {
                links.forEach(BpfLink::close);
            }
            LOG.info("FUSE monitor attached to fuse:{} and pinned in {}", PROGRAMS, pinDir);
        }
    }

    private static boolean linksPinned(Path pinDir) {
        return PROGRAMS.stream().allMatch(p -> Files.exists(pinDir.resolve("link_" + p)));
    }

    private static void unpinLinks(Libbpf libbpf, Path pinDir) throws IOException {
        for (String p : PROGRAMS) {
            Path pin = pinDir.resolve("link_" + p);
            if (Files.exists(pin)) {
                try (BpfLink link = BpfLink.openPinned(libbpf, pin)) {
                    link.unpin();
                }
                Files.deleteIfExists(pin);
            }
        }
    }

    private static long pinnedDigest(Libbpf libbpf, Path pinDir) {
        if (!Files.exists(pinDir.resolve("monitor_config"))) {
            return 0;
        }
        try (BpfMap config = BpfMap.openPinned(libbpf, pinDir.resolve("monitor_config"))) {
            if (config.valueSize() != CONFIG_SIZE) {
                return 0;
            }
            return config.lookup(new byte[4])
                    .map(v -> ByteBuffer.wrap(v).order(java.nio.ByteOrder.nativeOrder()).getLong(8)).orElse(0L);
        }
    }

    static byte[] objectBytes() throws BpfUnavailableException {
        try (InputStream in = FuseMonitor.class.getResourceAsStream(OBJECT_RESOURCE)) {
            if (in == null) {
                throw new BpfUnavailableException("this build has no " + OBJECT_RESOURCE
                        + " (it was built without clang: see bpf/Makefile)");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new BpfUnavailableException("cannot read " + OBJECT_RESOURCE + ": " + e, e);
        }
    }

    private static long digest(byte[] elf) {
        try {
            return ByteBuffer.wrap(MessageDigest.getInstance("SHA-256").digest(elf)).getLong();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The operator's version of a load failure. */
    static String reason(BpfException e) {
        return switch (e.errno()) {
            case 1 /* EPERM */, 13 /* EACCES */ -> "the process may not load BPF programs (" + e.getMessage()
                    + "); it needs CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN";
            case 38 /* ENOSYS */ -> "the kernel has no bpf() system call (" + e.getMessage() + ")";
            default -> "loading the FUSE monitor failed: " + e.getMessage();
        };
    }

    public Path pinDir() {
        return pinDir;
    }

    /** Counters per (connection, opcode), summed over CPUs. */
    public Map<FuseOpKey, FuseOpStats> opStats() {
        return requestStats.entries(FuseOpStats::plus);
    }

    /** Live load per connection id. */
    public Map<Integer, ConnectionLoad> connectionLoads() {
        Map<Integer, ConnectionLoad> out = new LinkedHashMap<>();
        connectionLoad.entries((a, b) -> a).forEach((c, l) -> out.put(c, l.withConnection(c)));
        return out;
    }

    /** Live load of one connection; empty before its first request. */
    /**
     * Drops what the maps keep for a connection id. The kernel reuses an id once its connection is gone, and
     * the old connection's figures (requests it never ended because it was aborted, counted in flight for
     * ever) would otherwise be read as the new one's load. Call it for a connection just mounted, never for
     * one that a restarted daemon adopts: that one's requests in flight are real.
     */
    public void forgetConnection(int connection) {
        connectionLoad.remove(connection);
        for (FuseOpKey k : requestStats.entries((a, b) -> a).keySet()) {
            if (k.connection() == connection) {
                requestStats.remove(k);
            }
        }
        for (byte[] key : inflight.keys()) {
            // struct inflight_key starts with the connection id (u32, host order)
            if (ByteBuffer.wrap(key).order(ByteOrder.nativeOrder()).getInt(0) == connection) {
                inflight.delete(key);
            }
        }
    }

    public java.util.Optional<ConnectionLoad> connectionLoad(int connection) {
        return connectionLoad.get(connection).map(l -> l.withConnection(connection));
    }

    /** Requests in flight by the CPU they were sent from (index = CPU). */
    public long[] cpuInFlight() {
        long[] out = new long[cpus];
        for (int cpu = 0; cpu < cpus; cpu++) {
            out[cpu] = cpuInFlight.get(cpu).orElse(0L);
        }
        return out;
    }

    /** Requests the monitor could not account: ends without sends, full tables, lost slow-request records. */
    public Map<String, Long> losses() {
        Map<String, Long> out = new LinkedHashMap<>();
        String[] names = {"unmatched_end", "tracking_full", "slow_record_dropped"};
        for (int i = 0; i < names.length; i++) {
            out.put(names[i], lossCounters.sum(i, Long::sum).orElse(0L));
        }
        return out;
    }

    /** Requests at least this slow are recorded in the ring buffer; zero turns recording off. Node-wide. */
    public void setSlowThreshold(Duration threshold) {
        byte[] value = config.lookup(new byte[4]).orElse(new byte[CONFIG_SIZE]);
        ByteBuffer.wrap(value).order(java.nio.ByteOrder.nativeOrder()).putLong(0, threshold.toNanos());
        config.update(new byte[4], value, BpfMap.BPF_ANY);
    }

    public Duration slowThreshold() {
        return Duration.ofNanos(config.lookup(new byte[4])
                .map(v -> ByteBuffer.wrap(v).order(java.nio.ByteOrder.nativeOrder()).getLong(0)).orElse(0L));
    }

    /**
     * Delivers slow requests to the consumer on a polling thread until the returned poller is closed. A ring buffer
     * has one reader at a time on a node: with several, each record reaches one of them.
     */
    public RingBufferPoller pollSlowRequests(Consumer<SlowRequest> consumer) {
        return new RingBufferPoller(libbpf, slowRequests, b -> consumer.accept(SlowRequest.read(b)));
    }

    /** Closes this process's map handles; the monitor stays attached (see {@link #detach}). */
    @Override
    public void close() {
        owned.forEach(BpfMap::close);
        owned.clear();
    }
}
