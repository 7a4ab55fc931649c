package io.efuse.csi.metrics;

import io.efuse.csi.bpf.ConnectionLoad;
import io.efuse.csi.bpf.FuseOpKey;
import io.efuse.csi.bpf.FuseOpStats;
import io.efuse.csi.bpf.FuseOpcodes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What one volume did between two readings of the monitor: request and error rates, latency quantiles (from the
 * log2 histogram, so within a factor of √2), data rates through the daemon, requests in flight now and its busiest
 * operation.
 */
public record VolumeActivity(VolumeDirectory.Volume volume, double opsPerSecond, double errorsPerSecond,
        double p50Ns, double p99Ns, long inFlight, double readBytesPerSecond, double writeBytesPerSecond,
        String busiestOp) {

    public static List<VolumeActivity> between(Map<FuseOpKey, FuseOpStats> before,
            Map<FuseOpKey, FuseOpStats> after, Map<Integer, ConnectionLoad> loads,
            Map<Integer, VolumeDirectory.Volume> volumes, Duration interval) {
        double seconds = Math.max(1e-9, interval.toNanos() / 1e9);
        Map<Integer, FuseOpStats> total = new HashMap<>();
        Map<Integer, long[]> busiest = new HashMap<>(); // connection -> {opcode, count}
        Map<Integer, long[]> data = new HashMap<>();    // connection -> {read bytes, write bytes}
        after.forEach((k, now) -> {
            FuseOpStats d = now.minus(before.getOrDefault(k, FuseOpStats.ZERO));
            total.merge(k.connection(), d, FuseOpStats::plus);
            long[] b = busiest.computeIfAbsent(k.connection(), c -> new long[] {-1, 0});
            if (d.count() > b[1]) {
                b[0] = k.opcode();
                b[1] = d.count();
            }
            long[] io = data.computeIfAbsent(k.connection(), c -> new long[2]);
            if (k.opcode() == FuseOpcodes.READ) {
                io[0] += d.bytesOut() - 16 * d.count();
            } else if (k.opcode() == FuseOpcodes.WRITE) {
                io[1] += d.bytesIn() - 80 * d.count();
            }
        });
        List<VolumeActivity> out = new ArrayList<>();
        for (VolumeDirectory.Volume v : volumes.values()) {
            FuseOpStats d = total.getOrDefault(v.connection(), FuseOpStats.ZERO);
            long[] b = busiest.getOrDefault(v.connection(), new long[] {-1, 0});
            long[] io = data.getOrDefault(v.connection(), new long[2]);
            ConnectionLoad load = loads.get(v.connection());
            out.add(new VolumeActivity(v, d.count() / seconds, d.errors() / seconds, d.quantileNs(0.5),
                    d.quantileNs(0.99), load == null ? 0 : Math.max(0, load.inFlight()), io[0] / seconds,
                    io[1] / seconds, b[1] == 0 ? "-" : FuseOpcodes.name((int) b[0])));
        }
        return out;
    }
}
