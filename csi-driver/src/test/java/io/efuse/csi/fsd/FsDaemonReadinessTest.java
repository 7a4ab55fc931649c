package io.efuse.csi.fsd;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The daemon's readiness (its /healthz in the chart) follows its connection to the fd keeper. */
class FsDaemonReadinessTest {
    private static final Duration BOUND = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    private static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + BOUND.toNanos();
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, what + " within " + BOUND);
            Thread.sleep(20); // the daemon reconnects by polling the socket, so there is nothing to wait on
        }
    }

    @Test
    void aDaemonIsReadyWhileItsKeeperKnowsItAndNotWhileHandingOver() throws Exception {
        Path socket = dir.resolve("keeper.sock");
        try (DaemonThread daemon = DaemonThread.start(socket)) {
            Thread.sleep(200); // polling a socket that does not exist yet
            assertFalse(daemon.daemon().connected(), "no keeper yet");
            FdKeeper keeper = FdKeeper.start(socket);
            await("the daemon to connect", () -> daemon.daemon().connected());
            keeper.close(); // the node plugin restarts
            await("the daemon to notice its keeper left", () -> !daemon.daemon().connected());
            try (FdKeeper again = FdKeeper.start(socket)) {
                await("the daemon to reconnect", () -> daemon.daemon().connected());
                daemon.daemon().handOver();
                assertFalse(daemon.daemon().connected(), "handing over: no longer a daemon to hand over to");
            }
        }
    }
}
