package io.efuse.csi.testing;

import java.time.Duration;

/**
 * Waits for something another thread or process brings about, for at most a bound, polling: the tests' one way
 * to wait. It fails with what it waited for, how long, and what the test adds to explain it; when it watches a
 * process, it fails as soon as that process exits instead of waiting out the bound.
 */
public final class BoundedWait {
    /** A condition that may do I/O or RPCs to find out whether it holds; what it throws, the wait throws. */
    @FunctionalInterface
    public interface Condition<E extends Exception> {
        boolean holds() throws E;
    }

    /** What to add to a failure: a log, the last answer. */
    @FunctionalInterface
    public interface Explanation {
        String text() throws Exception;
    }

    private static final Duration DEFAULT_INTERVAL = Duration.ofMillis(20);

    private final Duration bound;
    private final Duration interval;
    private final Process process;
    private final Explanation detail;

    private BoundedWait(Duration bound, Duration interval, Process process, Explanation detail) {
        if (bound.isNegative() || bound.isZero()) {
            throw new IllegalArgumentException("a wait needs a positive bound, not " + bound);
        }
        if (interval.isNegative() || interval.isZero()) {
            throw new IllegalArgumentException("a wait needs a positive polling interval, not " + interval);
        }
        this.bound = bound;
        this.interval = interval;
        this.process = process;
        this.detail = detail;
    }

    /** A wait of at most bound, polling every 20 ms. */
    public static BoundedWait upTo(Duration bound) {
        return new BoundedWait(bound, DEFAULT_INTERVAL, null, () -> "");
    }

    /** Polls every interval instead (a sampler's period, or a condition that is costly to ask). */
    public BoundedWait every(Duration interval) {
        return new BoundedWait(bound, interval, process, detail);
    }

    /** Gives up at once, with the process's exit status, when the process exits before the condition holds. */
    public BoundedWait whileAlive(Process process) {
        return new BoundedWait(bound, interval, process, detail);
    }

    /** Adds what detail says (a log, the last answer) to a failure, computed only when it fails. */
    public BoundedWait explainedBy(Explanation detail) {
        return new BoundedWait(bound, interval, process, detail);
    }

    /** Returns once condition holds; an AssertionError naming what when it does not within the bound. */
    public <E extends Exception> void until(String what, Condition<E> condition) throws E, InterruptedException {
        long deadline = System.nanoTime() + bound.toNanos();
        while (!condition.holds()) {
            if (process != null && !process.isAlive()) {
                throw new AssertionError(what + ": the process exited (status " + process.exitValue()
                        + ") before" + explanation());
            }
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("not within " + seconds(bound) + ": " + what + explanation());
            }
            Thread.sleep(interval);
        }
    }

    private String explanation() {
        String d;
        try {
            d = detail.text();
        } catch (Exception e) {
            d = "(no explanation: " + e + ")";
        }
        return d == null || d.isEmpty() ? "" : "\n" + d;
    }

    private static String seconds(Duration d) {
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
    }
}
