package io.efuse.csi.bpf;

import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * Counters of one (connection, opcode), counted when requests end: {@code latencyHistogram[k]} counts requests
 * with 2^k ≤ latency in ns &lt; 2^(k+1) (bucket 0 also holds 0 ns; the last bucket holds everything above).
 * Byte counts are wire lengths, FUSE headers included.
 */
public record FuseOpStats(long count, long errors, long bytesIn, long bytesOut, long latencyNsSum,
        long[] latencyHistogram) {

    public static final int BUCKETS = 48;
    public static final FuseOpStats ZERO = new FuseOpStats(0, 0, 0, 0, 0, new long[BUCKETS]);

    public static final MapCodec<FuseOpStats> CODEC = new MapCodec<>() {
        @Override public int size() { return 8 * (5 + BUCKETS); }

        @Override public void write(FuseOpStats s, ByteBuffer to) {
            to.putLong(s.count).putLong(s.errors).putLong(s.bytesIn).putLong(s.bytesOut).putLong(s.latencyNsSum);
            for (long b : s.latencyHistogram) {
                to.putLong(b);
            }
        }

        @Override public FuseOpStats read(ByteBuffer from) {
            long count = from.getLong(), errors = from.getLong(), in = from.getLong(), out = from.getLong();
            long sum = from.getLong();
            long[] hist = new long[BUCKETS];
            for (int i = 0; i < BUCKETS; i++) {
                hist[i] = from.getLong();
            }
            return new FuseOpStats(count, errors, in, out, sum, hist);
        }
    };

    public FuseOpStats {
        if (latencyHistogram.length != BUCKETS) {
            throw new IllegalArgumentException("latency histogram needs " + BUCKETS + " buckets");
        }
        latencyHistogram = latencyHistogram.clone();
    }

    @Override
    public long[] latencyHistogram() {
        return latencyHistogram.clone();
    }

    public long histogramTotal() {
        return Arrays.stream(latencyHistogram).sum();
    }

    /** Upper bound in ns of bucket k (exclusive): 2^(k+1). */
    public static long bucketUpperBoundNs(int k) {
        return k >= 62 ? Long.MAX_VALUE : 1L << (k + 1);
    }

    /** Requests in buckets 0..k: those with latency below {@link #bucketUpperBoundNs(int) 2^(k+1)} ns. */
    public long countBelowBucketEnd(int k) {
        long n = 0;
        for (int i = 0; i <= Math.min(k, BUCKETS - 1); i++) {
            n += latencyHistogram[i];
        }
        return n;
    }

    public FuseOpStats plus(FuseOpStats o) {
        long[] hist = new long[BUCKETS];
        for (int i = 0; i < BUCKETS; i++) {
            hist[i] = latencyHistogram[i] + o.latencyHistogram[i];
        }
        return new FuseOpStats(count + o.count, errors + o.errors, bytesIn + o.bytesIn, bytesOut + o.bytesOut,
                latencyNsSum + o.latencyNsSum, hist);
    }

    /** What happened between an earlier reading and this one. */
    public FuseOpStats minus(FuseOpStats earlier) {
        long[] hist = new long[BUCKETS];
        for (int i = 0; i < BUCKETS; i++) {
            hist[i] = latencyHistogram[i] - earlier.latencyHistogram[i];
        }
        return new FuseOpStats(count - earlier.count, errors - earlier.errors, bytesIn - earlier.bytesIn,
                bytesOut - earlier.bytesOut, latencyNsSum - earlier.latencyNsSum, hist);
    }

    /**
     * Latency quantile estimated from the histogram (geometric middle of the bucket it falls in), in ns; 0 when
     * there are no requests.
     */
    public double quantileNs(double q) {
        long total = histogramTotal();
        if (total == 0) {
            return 0;
        }
        double rank = q * total;
        long seen = 0;
        for (int k = 0; k < BUCKETS; k++) {
            seen += latencyHistogram[k];
            if (seen >= rank && latencyHistogram[k] > 0) {
                return Math.pow(2, k + 0.5);
            }
        }
        return Math.pow(2, BUCKETS - 0.5);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof FuseOpStats s && count == s.count && errors == s.errors && bytesIn == s.bytesIn
                && bytesOut == s.bytesOut && latencyNsSum == s.latencyNsSum
                && Arrays.equals(latencyHistogram, s.latencyHistogram);
    }

    @Override
    public int hashCode() {
        return Long.hashCode(count) * 31 + Arrays.hashCode(latencyHistogram);
    }

    @Override
    public String toString() {
        return "FuseOpStats[count=" + count + ", errors=" + errors + ", bytesIn=" + bytesIn + ", bytesOut=" + bytesOut
                + ", latencyNsSum=" + latencyNsSum + "]";
    }
}
