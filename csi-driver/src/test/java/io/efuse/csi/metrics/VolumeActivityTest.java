package io.efuse.csi.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.efuse.csi.bpf.ConnectionLoad;
import io.efuse.csi.bpf.FuseOpKey;
import io.efuse.csi.bpf.FuseOpStats;
import io.efuse.csi.bpf.FuseOpcodes;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class VolumeActivityTest {

    private static FuseOpStats stats(long count, long errors, long bytesIn, long bytesOut, int bucket) {
        long[] hist = new long[FuseOpStats.BUCKETS];
        hist[bucket] = count;
        return new FuseOpStats(count, errors, bytesIn, bytesOut, count * (1L << bucket), hist);
    }

    @Test
    void ratesQuantilesAndDataAreThoseOfTheInterval() {
        int conn = 41;
        FuseOpKey read = new FuseOpKey(conn, FuseOpcodes.READ);
        FuseOpKey lookup = new FuseOpKey(conn, FuseOpcodes.LOOKUP);
        Map<FuseOpKey, FuseOpStats> before = Map.of(read, stats(100, 0, 8000, 100 * (16 + 4096), 14));
        // over 2 s: 1,000 reads of 4 KiB at ~16-32 us, 20 failed lookups at ~1-2 ms
        Map<FuseOpKey, FuseOpStats> after = Map.of(
                read, stats(100, 0, 8000, 100 * (16 + 4096), 14).plus(stats(1000, 0, 80000, 1000 * (16 + 4096), 14)),
                lookup, stats(20, 20, 1000, 320, 20),
                new FuseOpKey(99, FuseOpcodes.GETATTR), stats(5000, 0, 0, 0, 10));
        VolumeDirectory.Volume v = new VolumeDirectory.Volume(conn, "pvc-a", "/mnt/a", "classic");
        List<VolumeActivity> rows = VolumeActivity.between(before, after,
                Map.of(conn, new ConnectionLoad(conn, 3, 0, 0, 0)), Map.of(conn, v), Duration.ofSeconds(2));

        assertEquals(1, rows.size(), "only registered volumes");
        VolumeActivity a = rows.getFirst();
        assertEquals(510, a.opsPerSecond(), 1e-9);
        assertEquals(10, a.errorsPerSecond(), 1e-9);
        assertEquals(Math.pow(2, 14.5), a.p50Ns(), 1e-6, "median in the reads' bucket");
        assertEquals(Math.pow(2, 20.5), a.p99Ns(), 1e-6, "the slow lookups are the top 2 %");
        assertEquals(1000 * 4096 / 2.0, a.readBytesPerSecond(), 1e-9);
        assertEquals(0, a.writeBytesPerSecond(), 1e-9);
        assertEquals(3, a.inFlight());
        assertEquals("read", a.busiestOp());
    }

    @Test
    void anIdleVolumeShowsZeros() {
        VolumeDirectory.Volume v = new VolumeDirectory.Volume(7, "pvc-idle", "/mnt/i", "passthrough");
        VolumeActivity a = VolumeActivity.between(Map.of(), Map.of(), Map.of(), Map.of(7, v), Duration.ofSeconds(1))
                .getFirst();
        assertEquals(0, a.opsPerSecond());
        assertEquals(0, a.p99Ns());
        assertEquals("-", a.busiestOp());
    }
}
