package io.efuse.csi.fuse;

import java.util.List;

/**
 * Requests served per opcode by a session: each worker and io_uring queue counts its own, and the counts of the
 * workers that retired to shrink the session are kept here so that the totals never go down.
 */
final class OpcodeCounts {
    private final long[] retiredCounts = new long[FuseOpcode.LIMIT];

    /** Keeps the counts of a worker that left the session. */
    void addRetired(FuseWorker w) {
        synchronized (retiredCounts) {
            long[] c = w.counts();
            for (int i = 0; i < c.length; i++) {
                retiredCounts[i] += c[i];
            }
        }
    }

    /** The retired workers', the live workers' and the queues' counts summed. */
    long[] sum(List<FuseWorker> workers, FuseUringTransport uring) {
        long[] sum;
        synchronized (retiredCounts) {
            sum = retiredCounts.clone();
        }
        for (FuseWorker w : workers) {
            long[] c = w.counts();
            for (int i = 0; i < sum.length; i++) {
                sum[i] += c[i];
            }
        }
        if (uring != null) {
            uring.addCounts(sum);
        }
        return sum;
    }

    /** Requests the io_uring queues served (0 without queues). */
    static long uringRequests(FuseUringTransport u) {
        if (u == null) {
            return 0;
        }
        long[] c = new long[FuseOpcode.LIMIT];
        u.addCounts(c);
        long n = 0;
        for (long x : c) {
            n += x;
        }
        return n;
    }

    /** {@code LOOKUP=3, GETATTR=5}, or {@code none}. */
    static String describe(long[] counts) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < counts.length; i++) {
            if (counts[i] > 0) {
                b.append(b.isEmpty() ? "" : ", ").append(FuseOpcode.name(i)).append('=').append(counts[i]);
            }
        }
        return b.isEmpty() ? "none" : b.toString();
    }
}
