package io.efuse.csi.metrics;

import io.efuse.csi.bpf.ConnectionLoad;

/**
 * The worker-count policy of one FUSE session, fed with successive {@link ConnectionLoad} readings of its
 * connection.
 *
 * <p>Demand is the number of requests the session holds at once: the larger of the requests in flight now and the
 * arrival rate times the mean latency since the last reading (Little's law, which smooths the instantaneous
 * count). The wanted count is the demand plus headroom, within [min, max]. It grows at once (at most doubling per
 * reading, so that one spike does not spawn max threads) and shrinks only after the demand stayed below the
 * current count for {@code quietReadings} readings in a row, halving the gap each time: bursts get workers fast,
 * and an idle session returns to min without flapping.
 */
public final class WorkerScaler {

    private final int min;
    private final int max;
    private final double headroom;
    private final int quietReadings;

    private ConnectionLoad previous;
    private long previousNanos;
    private int quiet;

    /** Headroom 25 %, shrinking after 4 quiet readings. */
    public WorkerScaler(int min, int max) {
        this(min, max, 1.25, 4);
    }

    public WorkerScaler(int min, int max, double headroom, int quietReadings) {
        if (min < 1 || max < min) {
            throw new IllegalArgumentException("worker bounds must satisfy 1 <= min <= max, not [" + min + ", "
                    + max + "]");
        }
        if (headroom < 1 || quietReadings < 1) {
            throw new IllegalArgumentException("headroom must be >= 1 and quietReadings >= 1");
        }
        this.min = min;
        this.max = max;
        this.headroom = headroom;
        this.quietReadings = quietReadings;
    }

    /**
     * @param reading the connection's load now
     * @param nowNanos a monotonic clock (System.nanoTime) at the reading
     * @param current the session's workers now
     * @return the workers it should have
     */
    public int decide(ConnectionLoad reading, long nowNanos, int current) {
        double demand = Math.max(0, reading.inFlight());
        boolean firstReading = previous == null;
        if (!firstReading && nowNanos > previousNanos) {
            double arrivalsPerNs = (double) (reading.sent() - previous.sent()) / (nowNanos - previousNanos);
            demand = Math.max(demand, arrivalsPerNs * reading.meanLatencyNsSince(previous));
        }
        previous = reading;
        previousNanos = nowNanos;

        int wanted = clamp((int) Math.ceil(demand * headroom));
        int now = clamp(current);
        if (wanted > now) {
            quiet = 0;
            return Math.min(wanted, clamp(Math.max(1, now) * 2));
        }
        if (wanted < now) {
            if (firstReading || ++quiet < quietReadings) {  // a first reading shows no rates: never shrink on it
                return now;
            }
            return clamp(now - Math.max(1, (now - wanted) / 2));
        }
        quiet = 0;
        return now;
    }

    private int clamp(int n) {
        return Math.max(min, Math.min(max, n));
    }
}
