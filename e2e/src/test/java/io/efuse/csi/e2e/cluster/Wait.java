package io.efuse.csi.e2e.cluster;

import java.time.Duration;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * Bounded waits that read the state again on every round. A single watch can miss an event (a dropped stream, a
 * relist) and then waits for ever; polling costs a request a second and always ends, with a message that says
 * what was awaited and what was seen last.
 */
final class Wait {

    private static final Duration ROUND = Duration.ofMillis(Long.getLong("cluster.pollMillis", 1000));

    private Wait() {
    }

    /** Reads {@code probe} until {@code done} holds for what it returns, and returns that. */
    static <T> T until(String what, Duration bound, Supplier<T> probe, Predicate<? super T> done) {
        return until(what, bound, probe, done, String::valueOf);
    }

    static <T> T until(String what, Duration bound, Supplier<T> probe, Predicate<? super T> done,
            Function<? super T, String> describe) {
        long deadline = System.nanoTime() + bound.toNanos();
        String lastSeen = "nothing read yet";
        while (true) {
            try {
                T value = probe.get();
                if (done.test(value)) {
                    return value;
                }
                lastSeen = value == null ? "absent" : describe.apply(value);
            } catch (RuntimeException e) {
                // the API server or an exec may fail for a moment (a restarting component is what some tests cause)
                lastSeen = "error: " + e;
            }
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("timed out after " + bound.toSeconds() + " s waiting for " + what
                        + "; last seen: " + abbreviate(lastSeen));
            }
            sleep(ROUND);
        }
    }

    /** Waits until the condition holds. */
    static void until(String what, Duration bound, Supplier<Boolean> condition) {
        until(what, bound, condition, Boolean.TRUE::equals, v -> "not yet");
    }

    static void sleep(Duration d) {
        try {
            Thread.sleep(d);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    private static String abbreviate(String s) {
        return s.length() <= 2000 ? s : s.substring(0, 2000) + "…";
    }
}
