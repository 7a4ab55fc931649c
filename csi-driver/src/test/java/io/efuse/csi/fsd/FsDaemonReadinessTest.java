package io.efuse.csi.fsd;

import static org.junit.jupiter.api.Assertions.assertFalse;

import io.efuse.csi.testing.BoundedWait;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The daemon's readiness (its /healthz in the chart) follows its connection to the fd keeper. */
class FsDaemonReadinessTest {
    private static final Duration BOUND = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    /** Counts down when the daemon says it found no keeper at its socket: it has tried to connect. */
    private static final class NoKeeperWarning extends Handler {
        final CountDownLatch seen = new CountDownLatch(1);

        @Override
        public void publish(LogRecord r) {
            if (r.getMessage() != null && r.getMessage().startsWith("no fd keeper at")) {
                seen.countDown();
            }
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
    }

    @Test
    void aDaemonIsReadyWhileItsKeeperKnowsItAndNotWhileHandingOver() throws Exception {
        Path socket = dir.resolve("keeper.sock");
        Logger log = Logger.getLogger(FsDaemon.class.getName());
        NoKeeperWarning warning = new NoKeeperWarning();
        log.addHandler(warning);
        BoundedWait wait = BoundedWait.upTo(BOUND);
        try (DaemonThread daemon = DaemonThread.start(socket)) {
            // not connected before it tried would prove nothing: wait until its first attempt has failed
            if (!warning.seen.await(BOUND.toSeconds(), TimeUnit.SECONDS)) {
                throw new AssertionError("the daemon did not try to reach its keeper within " + BOUND.toSeconds()
                        + " s");
            }
            assertFalse(daemon.daemon().connected(), "no keeper yet");
            FdKeeper keeper = FdKeeper.start(socket);
            wait.until("the daemon to connect", () -> daemon.daemon().connected());
            keeper.close(); // the node plugin restarts
            wait.until("the daemon to notice its keeper left", () -> !daemon.daemon().connected());
            try (FdKeeper again = FdKeeper.start(socket)) {
                wait.until("the daemon to reconnect", () -> daemon.daemon().connected());
                daemon.daemon().handOver();
                assertFalse(daemon.daemon().connected(), "handing over: no longer a daemon to hand over to");
            }
        } finally {
            log.removeHandler(warning);
        }
    }
}
