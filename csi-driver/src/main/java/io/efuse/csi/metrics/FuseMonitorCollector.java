package io.efuse.csi.metrics;

import io.efuse.csi.bpf.ConnectionLoad;
import io.efuse.csi.bpf.FuseMonitor;
import io.efuse.csi.bpf.FuseOpKey;
import io.efuse.csi.bpf.FuseOpStats;
import io.efuse.csi.bpf.FuseOpcodes;
import io.efuse.csi.bpf.NodeMonitor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * Per-volume FUSE request series read from the eBPF monitor at scrape time. Only connections of registered
 * volumes are exported (other FUSE filesystems on the node are none of ours).
 */
public final class FuseMonitorCollector implements Collector {

    /** Histogram bounds: 2^k ns for even k from 2^10 (≈1 µs) to 2^34 (≈17 s). */
    static final int[] LE_POWERS = {10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34};
    private static final int READ_REPLY_HEADER = 16;          // fuse_out_header
    private static final int WRITE_REQUEST_HEADERS = 40 + 40; // fuse_in_header + fuse_write_in

    private static final List<String> VOLUME_OP = List.of("volume", "op");

    private final NodeMonitor node;
    private final VolumeDirectory volumes;

    /** The storage engine of a volume id, "" when not known (a standalone mount of a plain directory). */
    private volatile Function<String, String> engines = id -> "";

    /** Says which engine keeps each volume, for the engine label of efuse_volume_info. */
    void describeEngines(Function<String, String> engineOfVolume) {
        this.engines = engineOfVolume;
    }

    public FuseMonitorCollector(NodeMonitor node, VolumeDirectory volumes) {
        this.node = node;
        this.volumes = volumes;
    }

    @Override
    public void collect(MetricWriter out) {
        Optional<FuseMonitor> monitor = node.monitor();
        out.family("efuse_fuse_monitor_up", "gauge",
                "1 when the eBPF FUSE monitor runs on this node; 0 with the reason in efuse_fuse_monitor_info");
        out.sample("efuse_fuse_monitor_up", monitor.isPresent() ? 1 : 0);
        node.unavailableReason().ifPresent(reason -> out
                .family("efuse_fuse_monitor_info", "gauge", "Why the eBPF FUSE monitor is off")
                .sample("efuse_fuse_monitor_info", List.of("reason"), List.of(reason), 1));

        // One reading of the directory per scrape: with a state directory it reads the files other processes publish.
        Map<Integer, VolumeDirectory.Volume> known = volumes.all();
        out.family("efuse_volume_info", "gauge",
                "Mounted eFuse volumes: FUSE connection, mount point, tier and the storage engine that keeps the data");
        for (VolumeDirectory.Volume v : known.values()) {
            out.sample("efuse_volume_info", List.of("volume", "connection", "mount_point", "tier", "engine"),
                    List.of(v.volumeId(), Integer.toString(v.connection()), v.mountPoint(), v.tier(),
                            engines.apply(v.volumeId())), 1);
        }
        if (monitor.isEmpty()) {
            return;
        }
        FuseMonitor m = monitor.get();
        Map<FuseOpKey, FuseOpStats> stats = m.opStats();
        List<Row> rows = new ArrayList<>();
        stats.forEach((k, s) -> Optional.ofNullable(known.get(k.connection()))
                .ifPresent(v -> rows.add(new Row(v.volumeId(), FuseOpcodes.name(k.opcode()), k.opcode(), s))));

        out.family("efuse_fuse_requests_total", "counter", "FUSE requests answered, by volume and operation");
        rows.forEach(r -> out.sample("efuse_fuse_requests_total", VOLUME_OP, r.labels(), r.stats.count()));
        out.family("efuse_fuse_request_errors_total", "counter",
                "FUSE requests answered with an error (or aborted), by volume and operation");
        rows.forEach(r -> out.sample("efuse_fuse_request_errors_total", VOLUME_OP, r.labels(), r.stats.errors()));
        out.family("efuse_fuse_message_bytes_total", "counter",
                "Bytes of FUSE requests (to the daemon) and replies (from it), headers included");
        List<String> withDirection = List.of("volume", "op", "message");
        for (Row r : rows) {
            out.sample("efuse_fuse_message_bytes_total", withDirection, List.of(r.volume, r.op, "request"),
                    r.stats.bytesIn());
            out.sample("efuse_fuse_message_bytes_total", withDirection, List.of(r.volume, r.op, "reply"),
                    r.stats.bytesOut());
        }
        out.family("efuse_volume_data_bytes_total", "counter",
                "File data read and written through the daemon (passthrough I/O bypasses it)");
        for (Row r : rows) {
            if (r.opcode == FuseOpcodes.READ) {
                out.sample("efuse_volume_data_bytes_total", List.of("volume", "direction"), List.of(r.volume, "read"),
                        Math.max(0, r.stats.bytesOut() - READ_REPLY_HEADER * r.stats.count()));
            } else if (r.opcode == FuseOpcodes.WRITE) {
                out.sample("efuse_volume_data_bytes_total", List.of("volume", "direction"),
                        List.of(r.volume, "write"),
                        Math.max(0, r.stats.bytesIn() - WRITE_REQUEST_HEADERS * r.stats.count()));
            }
        }
        out.family("efuse_fuse_request_duration_seconds", "histogram",
                "Time from a FUSE request's queueing to its reply, by volume and operation");
        List<String> withLe = List.of("volume", "op", "le");
        for (Row r : rows) {
            for (int p : LE_POWERS) {
                out.sample("efuse_fuse_request_duration_seconds_bucket", withLe,
                        List.of(r.volume, r.op, MetricWriter.format(Math.scalb(1.0, p) / 1e9)),
                        r.stats.countBelowBucketEnd(p - 1));
            }
            out.sample("efuse_fuse_request_duration_seconds_bucket", withLe, List.of(r.volume, r.op, "+Inf"),
                    r.stats.histogramTotal());
            out.sample("efuse_fuse_request_duration_seconds_sum", VOLUME_OP, r.labels(),
                    r.stats.latencyNsSum() / 1e9);
            out.sample("efuse_fuse_request_duration_seconds_count", VOLUME_OP, r.labels(), r.stats.histogramTotal());
        }

        out.family("efuse_fuse_requests_in_flight", "gauge", "FUSE requests sent to the daemon and not yet answered");
        for (Map.Entry<Integer, ConnectionLoad> e : m.connectionLoads().entrySet()) {
            Optional.ofNullable(known.get(e.getKey())).ifPresent(v -> out.sample("efuse_fuse_requests_in_flight",
                    List.of("volume"), List.of(v.volumeId()), Math.max(0, e.getValue().inFlight())));
        }
        out.family("efuse_fuse_cpu_requests_in_flight", "gauge",
                "FUSE requests in flight on the node, by the CPU that sent them (all FUSE filesystems)");
        long[] perCpu = m.cpuInFlight();
        for (int cpu = 0; cpu < perCpu.length; cpu++) {
            out.sample("efuse_fuse_cpu_requests_in_flight", List.of("cpu"), List.of(Integer.toString(cpu)),
                    Math.max(0, perCpu[cpu]));
        }
        out.family("efuse_fuse_monitor_lost_total", "counter", "Requests the monitor could not account, by reason");
        m.losses().forEach((reason, n) -> out.sample("efuse_fuse_monitor_lost_total", List.of("reason"),
                List.of(reason), n));
    }

    private record Row(String volume, String op, int opcode, FuseOpStats stats) {
        List<String> labels() {
            return List.of(volume, op);
        }
    }
}
