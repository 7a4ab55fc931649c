import io.efuse.csi.bpf.BpfHost;
import io.efuse.csi.bpf.FuseMonitor;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * M1 on a mounted eFuse volume in batches, the eBPF monitor attached for every other batch (ABBA order), so that
 * the noise of a shared machine falls on both sides alike. Prints, per phase, the median rate of the batches with
 * the monitor detached and attached and their ratio.
 *
 *   java -cp csi-driver/target/efuse-csi.jar bench/MonitorOverhead.java DIR FILES_PER_BATCH BATCHES_PER_STATE
 *
 * DIR is a directory on the mount. The monitor is attached under a private pin root (the node's monitor, if any,
 * keeps running and adds the same cost to both sides: detach it first for a clean baseline).
 */
public class MonitorOverhead {
    static final List<String> PHASES = List.of("create", "stat_cold", "stat_warm", "unlink");

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        int files = Integer.parseInt(args[1]);
        int batches = Integer.parseInt(args[2]);
        BpfHost host = BpfHost.system().withPinRoot(Path.of("/sys/fs/bpf/efuse-bench-" + ProcessHandle.current().pid()));
        Map<String, List<Double>> rates = new LinkedHashMap<>();
        try {
            for (int b = 0; b < 2 * batches; b++) {
                boolean attached = (b % 4 == 1) || (b % 4 == 2); // D A A D D A A D ...
                if (attached) {
                    FuseMonitor.attach(host).close(); // stays attached through its pinned links
                } else {
                    FuseMonitor.detach(host);
                }
                Path d = Files.createDirectory(dir.resolve("batch" + b));
                double[] r = m1(d, files);
                Files.delete(d);
                for (int i = 0; i < PHASES.size(); i++) {
                    rates.computeIfAbsent((attached ? "attached " : "detached ") + PHASES.get(i), k -> new ArrayList<>())
                            .add(r[i]);
                }
            }
        } finally {
            FuseMonitor.detach(host);
            Files.deleteIfExists(host.pinRoot());
        }
        System.out.println("| phase | detached ops/s median (min-max) | attached ops/s median (min-max) | attached/detached |");
        System.out.println("|---|---|---|---|");
        for (String p : PHASES) {
            List<Double> d = rates.get("detached " + p), a = rates.get("attached " + p);
            System.out.printf("| %s | %.0f (%.0f-%.0f) | %.0f (%.0f-%.0f) | %.3f |%n", p, median(d), min(d), max(d),
                    median(a), min(a), max(a), median(a) / median(d));
        }
    }

    static double[] m1(Path d, int n) throws Exception {
        double[] r = new double[4];
        long t = System.nanoTime();
        for (int i = 0; i < n; i++) {
            Files.createFile(d.resolve(name(i)));
        }
        r[0] = n / ((System.nanoTime() - t) / 1e9);
        Files.writeString(Path.of("/proc/sys/vm/drop_caches"), "3");
        t = System.nanoTime();
        for (int i = 0; i < n; i++) {
            Files.readAttributes(d.resolve(name(i)), BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        }
        r[1] = n / ((System.nanoTime() - t) / 1e9);
        t = System.nanoTime();
        for (int i = 0; i < n; i++) {
            Files.readAttributes(d.resolve(name(i)), BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        }
        r[2] = n / ((System.nanoTime() - t) / 1e9);
        t = System.nanoTime();
        for (int i = 0; i < n; i++) {
            Files.delete(d.resolve(name(i)));
        }
        r[3] = n / ((System.nanoTime() - t) / 1e9);
        return r;
    }

    static String name(int i) {
        return String.format("f%06d", i);
    }

    static double median(List<Double> v) {
        List<Double> s = v.stream().sorted().toList();
        return s.size() % 2 == 1 ? s.get(s.size() / 2) : (s.get(s.size() / 2 - 1) + s.get(s.size() / 2)) / 2;
    }

    static double min(List<Double> v) { return v.stream().mapToDouble(x -> x).min().orElse(0); }
    static double max(List<Double> v) { return v.stream().mapToDouble(x -> x).max().orElse(0); }
}
