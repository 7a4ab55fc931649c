package io.efuse.csi.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.efuse.csi.bpf.ConnectionLoad;
import org.junit.jupiter.api.Test;

class WorkerScalerTest {

    private static final long SECOND = 1_000_000_000L;

    /** Readings of a fake connection: cumulative counters advanced by what happened in each interval. */
    private static final class FakeConnection {
        long sent;
        long ended;
        long latencySum;
        long now;

        ConnectionLoad tick(long arrivals, long meanLatencyNs, long inFlight) {
            now += SECOND;
            sent += arrivals;
            ended += arrivals;
            latencySum += arrivals * meanLatencyNs;
            return new ConnectionLoad(7, inFlight, sent, ended, latencySum);
        }
    }

    @Test
    void aQueueDeeperThanTheWorkersGrowsThemAtOnceButAtMostDoubling() {
        WorkerScaler s = new WorkerScaler(1, 16);
        FakeConnection c = new FakeConnection();
        assertEquals(2, s.decide(c.tick(0, 0, 0), c.now, 2), "idle first reading: no change yet");
        assertEquals(4, s.decide(c.tick(1000, 1_000_000, 12), c.now, 2), "12 queued with 2 workers: double");
        assertEquals(8, s.decide(c.tick(1000, 1_000_000, 12), c.now, 4));
        assertEquals(15, s.decide(c.tick(1000, 1_000_000, 12), c.now, 8), "ceil(12 * 1.25) = 15");
        assertEquals(15, s.decide(c.tick(1000, 1_000_000, 12), c.now, 15));
    }

    @Test
    void littlesLawCatchesLoadTheInstantaneousQueueMisses() {
        WorkerScaler s = new WorkerScaler(1, 32);
        FakeConnection c = new FakeConnection();
        s.decide(c.tick(0, 0, 0), c.now, 2);
        // 8,000 requests/s at 1 ms each keep 8 busy on average, although the reading caught only 1 in flight
        assertEquals(4, s.decide(c.tick(8000, 1_000_000, 1), c.now, 2));
        assertEquals(8, s.decide(c.tick(8000, 1_000_000, 1), c.now, 4));
        assertEquals(10, s.decide(c.tick(8000, 1_000_000, 1), c.now, 8));
    }

    @Test
    void anIdleSessionShrinksToMinOnlyAfterQuietReadingsWithoutFlapping() {
        WorkerScaler s = new WorkerScaler(2, 16, 1.25, 3);
        FakeConnection c = new FakeConnection();
        s.decide(c.tick(0, 0, 0), c.now, 12);
        assertEquals(12, s.decide(c.tick(0, 0, 0), c.now, 12), "quiet 1");
        assertEquals(12, s.decide(c.tick(0, 0, 0), c.now, 12), "quiet 2");
        int n = s.decide(c.tick(0, 0, 0), c.now, 12);
        assertEquals(7, n, "quiet 3: halve the gap to min");
        while (n > 2) {
            int next = s.decide(c.tick(0, 0, 0), c.now, n);
            assertEquals(true, next < n);
            n = next;
        }
        assertEquals(2, s.decide(c.tick(0, 0, 0), c.now, 2), "never below min");
    }

    @Test
    void aBurstBetweenQuietReadingsResetsTheShrinkCountdown() {
        WorkerScaler s = new WorkerScaler(1, 8, 1.25, 2);
        FakeConnection c = new FakeConnection();
        s.decide(c.tick(0, 0, 0), c.now, 8);
        assertEquals(8, s.decide(c.tick(0, 0, 0), c.now, 8), "quiet 1");
        assertEquals(8, s.decide(c.tick(7000, 1_000_000, 8), c.now, 8), "busy: stays");
        assertEquals(8, s.decide(c.tick(0, 0, 0), c.now, 8), "quiet 1 again");
        assertEquals(5, s.decide(c.tick(0, 0, 0), c.now, 8), "quiet 2: shrink");
    }

    @Test
    void stayWithinBoundsAndRefuseBadOnes() {
        WorkerScaler s = new WorkerScaler(2, 4);
        FakeConnection c = new FakeConnection();
        assertEquals(4, s.decide(c.tick(0, 0, 100), c.now, 3));
        assertEquals(4, s.decide(c.tick(0, 0, 100), c.now, 64), "a current count above max is brought back");
        assertThrows(IllegalArgumentException.class, () -> new WorkerScaler(0, 4));
        assertThrows(IllegalArgumentException.class, () -> new WorkerScaler(5, 4));
        assertThrows(IllegalArgumentException.class, () -> new WorkerScaler(1, 4, 0.5, 1));
    }
}
