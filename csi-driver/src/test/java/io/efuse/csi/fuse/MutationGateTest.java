package io.efuse.csi.fuse;

import static org.junit.jupiter.api.Assertions.*;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class MutationGateTest {
    private static final Duration LONG = Duration.ofSeconds(30);

    @Test
    void aClosedGateHoldsRequestsBackUntilItOpens() throws Exception {
        MutationGate gate = new MutationGate();
        long gen = gate.close(LONG, LONG);
        CompletableFuture<Void> request = CompletableFuture.runAsync(() -> {
            gate.enter();
            gate.leave();
        });
        assertThrows(TimeoutException.class, () -> request.get(300, TimeUnit.MILLISECONDS));
        assertTrue(gate.isClosed());
        assertTrue(gate.open(gen), "the hold was still on when opened");
        request.get(5, TimeUnit.SECONDS);
        assertFalse(gate.isClosed());
    }

    @Test
    void closingWaitsForTheRequestsRunning() throws Exception {
        MutationGate gate = new MutationGate();
        CountDownLatch inside = new CountDownLatch(1);
        CountDownLatch finish = new CountDownLatch(1);
        CompletableFuture<Void> running = CompletableFuture.runAsync(() -> {
            gate.enter();
            inside.countDown();
            try {
                finish.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            gate.leave();
        });
        inside.await();
        CompletableFuture<Long> closing = CompletableFuture.supplyAsync(() -> {
            try {
                return gate.close(LONG, LONG);
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        assertThrows(TimeoutException.class, () -> closing.get(300, TimeUnit.MILLISECONDS),
                "close returns only once the running request left");
        finish.countDown();
        running.get(5, TimeUnit.SECONDS);
        gate.open(closing.get(5, TimeUnit.SECONDS));
    }

    @Test
    void aRequestThatOutlastsTheDrainFailsTheCloseAndLeavesTheGateOpen() throws Exception {
        MutationGate gate = new MutationGate();
        gate.enter();
        MutationGate.GateBusyException e = assertThrows(MutationGate.GateBusyException.class,
                () -> gate.close(Duration.ofMillis(100), LONG));
        assertTrue(e.getMessage().contains("did not finish"), e.getMessage());
        assertFalse(gate.isClosed());
        CompletableFuture.runAsync(() -> {
            gate.enter();
            gate.leave();
        }).get(5, TimeUnit.SECONDS);
        gate.leave();
    }

    @Test
    void aHoldThatRunsOutOpensByItselfAndSaysSoWhenEnded() throws Exception {
        MutationGate gate = new MutationGate();
        long gen = gate.close(LONG, Duration.ofMillis(200));
        CompletableFuture<Void> request = CompletableFuture.runAsync(() -> {
            gate.enter();
            gate.leave();
        });
        request.get(5, TimeUnit.SECONDS); // passes once the hold ran out
        assertFalse(gate.isClosed());
        assertFalse(gate.open(gen), "the closer learns that requests may have passed");
    }

    @Test
    void aSecondCloserIsRefusedWhileTheFirstHoldsAndALateOpenLeavesTheNextHoldAlone() throws Exception {
        MutationGate gate = new MutationGate();
        long first = gate.close(LONG, Duration.ofMillis(100));
        assertThrows(MutationGate.GateBusyException.class, () -> gate.close(LONG, LONG));
        Thread.sleep(200);
        long second = gate.close(LONG, LONG);
        assertFalse(gate.open(first), "the first hold ran out; opening it must not end the second");
        assertTrue(gate.isClosed());
        assertTrue(gate.open(second));
    }
}
