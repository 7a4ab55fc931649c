package io.efuse.csi.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class BoundedWaitTest {
    @Test
    void returnsOnceTheConditionHoldsAskingItUntilThen() throws Exception {
        AtomicInteger asked = new AtomicInteger();
        BoundedWait.upTo(Duration.ofSeconds(30)).every(Duration.ofMillis(1)).until("the third answer",
                () -> asked.incrementAndGet() == 3);
        assertEquals(3, asked.get());
    }

    @Test
    void failsAfterTheBoundNamingWhatItWaitedForAndWhy() {
        long t0 = System.nanoTime();
        AssertionError e = assertThrows(AssertionError.class, () -> BoundedWait.upTo(Duration.ofMillis(200))
                .explainedBy(() -> "the last answer was no").until("a condition that never holds", () -> false));
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertEquals("not within 200 ms: a condition that never holds\nthe last answer was no", e.getMessage());
        assertTrue(ms >= 200, "waited " + ms + " ms");
    }

    @Test
    void aWatchedProcessThatExitsEndsTheWaitAtOnce() throws Exception {
        Process p = new ProcessBuilder("sh", "-c", "exit 7").start();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        long t0 = System.nanoTime();
        AssertionError e = assertThrows(AssertionError.class, () -> BoundedWait.upTo(Duration.ofSeconds(60))
                .whileAlive(p).until("the socket", () -> false));
        assertEquals("the socket: the process exited (status 7) before", e.getMessage());
        assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(30), "did not wait out the bound");
    }

    @Test
    void aConditionsFailureIsTheWaitsFailure() {
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> BoundedWait
                .upTo(Duration.ofSeconds(30)).until("an answer", () -> {
                    throw new IllegalStateException("the server refused");
                }));
        assertEquals("the server refused", e.getMessage());
    }

    @Test
    void aBoundOrIntervalThatIsNotPositiveIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> BoundedWait.upTo(Duration.ZERO));
        assertThrows(IllegalArgumentException.class,
                () -> BoundedWait.upTo(Duration.ofSeconds(1)).every(Duration.ofMillis(-1)));
    }
}
