package io.efuse.csi.cli;

import io.efuse.csi.bpf.BpfHost;
import io.efuse.csi.bpf.BpfUnavailableException;
import io.efuse.csi.bpf.FuseMonitor;
import io.efuse.csi.bpf.FuseOpKey;
import io.efuse.csi.bpf.FuseOpStats;
import io.efuse.csi.metrics.VolumeActivity;
import io.efuse.csi.metrics.VolumeDirectory;
import io.efuse.csi.sys.MountTable;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalTime;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code efuse-csi status}: a live, top-like view of this node's eFuse volumes from the eBPF monitor. */
@Command(name = "status", mixinStandardHelpOptions = true,
        description = "Show this node's eFuse volumes live: requests/s, p50/p99 latency, data rates, tier."
                + " Reads the eBPF FUSE monitor that a node plugin or `efuse-csi mount` attached.")
final class StatusCommand implements Callable<Integer> {

    @Option(names = "--interval", defaultValue = "2", paramLabel = "SECONDS",
            description = "Refresh interval in seconds, may be fractional (default: ${DEFAULT-VALUE}).")
    double interval;

    @Option(names = "--count", paramLabel = "N", description = "Stop after N refreshes (default: until interrupted).")
    Integer count;

    @Option(names = "--once", description = "Print one interval's figures and exit (same as --count 1).")
    boolean once;

    @Option(names = "--all", description = "Also show FUSE filesystems that are not eFuse volumes.")
    boolean all;

    @Option(names = "--pin-root", hidden = true, defaultValue = "/sys/fs/bpf/efuse")
    Path pinRoot;

    @Option(names = "--state-dir", hidden = true, defaultValue = "/run/efuse/volumes")
    Path stateDir;

    PrintStream out = System.out;

    @Override
    public Integer call() throws Exception {
        if (!(interval > 0) || interval > 3600) {
            System.err.println("efuse-csi status: --interval must be between 0 and 3600 seconds");
            return ExitCodes.USAGE;
        }
        int refreshes = once ? 1 : count == null ? Integer.MAX_VALUE : count;
        if (refreshes < 1) {
            System.err.println("efuse-csi status: --count must be at least 1");
            return ExitCodes.USAGE;
        }
        BpfHost host = BpfHost.system().withPinRoot(pinRoot);
        FuseMonitor monitor;
        try {
            monitor = FuseMonitor.openPinned(host);
        } catch (BpfUnavailableException e) {
            out.println("eBPF FUSE monitor: " + e.getMessage());
            printVolumesWithoutFigures();
            return ExitCodes.FAILED;
        }
        boolean terminal = System.console() != null && !once && count == null;
        Duration step = Duration.ofNanos((long) (interval * 1e9));
        try (monitor) {
            Map<FuseOpKey, FuseOpStats> before = monitor.opStats();
            long t0 = System.nanoTime();
            for (int i = 0; i < refreshes; i++) {
                Thread.sleep(step); // the sampling interval itself
                Map<FuseOpKey, FuseOpStats> after = monitor.opStats();
                long t1 = System.nanoTime();
                List<VolumeActivity> rows = VolumeActivity.between(before, after, monitor.connectionLoads(),
                        volumes(after), Duration.ofNanos(t1 - t0));
                if (terminal) {
                    out.print("\033[H\033[2J");
                }
                render(rows, monitor, Duration.ofNanos(t1 - t0));
                before = after;
                t0 = t1;
            }
        }
        return ExitCodes.OK;
    }

    /** Volumes published by the serving processes that are still mounted, plus (with --all) other FUSE mounts. */
    private Map<Integer, VolumeDirectory.Volume> volumes(Map<FuseOpKey, FuseOpStats> seen) throws IOException {
        Map<Integer, VolumeDirectory.Volume> published = VolumeDirectory.readPublished(stateDir);
        Map<Integer, VolumeDirectory.Volume> out = new TreeMap<>();
        for (MountTable.Entry e : MountTable.read()) {
            if (e.major() != 0 || !(e.fsType().equals("fuse") || e.fsType().startsWith("fuse."))) {
                continue;
            }
            VolumeDirectory.Volume v = published.get(e.minor());
            if (v != null) {
                out.put(e.minor(), v);
            } else if (e.fsType().equals("fuse.efuse") || all) {
                out.put(e.minor(), new VolumeDirectory.Volume(e.minor(), e.source(), e.mountPoint(),
                        e.fsType().equals("fuse.efuse") ? "?" : e.fsType()));
            }
        }
        return out;
    }

    private void render(List<VolumeActivity> rows, FuseMonitor monitor, Duration over) {
        out.printf("efuse-csi status  %s  over %.1fs  slow-request threshold %s%n",
                LocalTime.now().format(DateTimeFormatter.ofPattern("HH:mm:ss")), over.toNanos() / 1e9,
                monitor.slowThreshold().isZero() ? "off" : monitor.slowThreshold().toMillis() + "ms");
        out.printf("%-24s %-6s %-11s %9s %7s %8s %9s %9s %9s %9s  %s%n", "VOLUME", "CONN", "TIER", "OPS/S",
                "ERR/S", "INFLIGHT", "P50", "P99", "READ/S", "WRITE/S", "TOP-OP  MOUNT");
        if (rows.isEmpty()) {
            out.println("(no eFuse volumes mounted on this node)");
        }
        for (VolumeActivity a : rows) {
            out.printf("%-24s %-6d %-11s %9.1f %7.1f %8d %9s %9s %9s %9s  %-7s %s%n", clip(a.volume().volumeId(), 24),
                    a.volume().connection(), clip(a.volume().tier(), 11), a.opsPerSecond(), a.errorsPerSecond(),
                    a.inFlight(), latency(a.p50Ns()), latency(a.p99Ns()), bytes(a.readBytesPerSecond()),
                    bytes(a.writeBytesPerSecond()), a.busiestOp(), a.volume().mountPoint());
        }
        out.flush();
    }

    private void printVolumesWithoutFigures() throws IOException {
        Map<Integer, VolumeDirectory.Volume> vs = volumes(Map.of());
        out.printf("%-24s %-6s %-11s %s%n", "VOLUME", "CONN", "TIER", "MOUNT");
        for (VolumeDirectory.Volume v : vs.values()) {
            out.printf("%-24s %-6d %-11s %s%n", clip(v.volumeId(), 24), v.connection(), v.tier(), v.mountPoint());
        }
    }

    static String latency(double ns) {
        if (ns <= 0) {
            return "-";
        }
        if (ns < 1e3) {
            return String.format("%.0fns", ns);
        }
        if (ns < 1e6) {
            return String.format("%.1fus", ns / 1e3);
        }
        if (ns < 1e9) {
            return String.format("%.1fms", ns / 1e6);
        }
        return String.format("%.2fs", ns / 1e9);
    }

    static String bytes(double perSecond) {
        if (perSecond < 1) {
            return "-";
        }
        String[] units = {"B", "KiB", "MiB", "GiB"};
        int u = 0;
        while (perSecond >= 1024 && u < units.length - 1) {
            perSecond /= 1024;
            u++;
        }
        return String.format("%.1f%s", perSecond, units[u]);
    }

    private static String clip(String s, int n) {
        return s.length() <= n ? s : s.substring(0, n - 1) + "…";
    }
}
