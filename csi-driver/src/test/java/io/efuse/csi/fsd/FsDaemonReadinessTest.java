package io.efuse.csi.fsd;

import static org.junit.jupiter.api.Assertions.assertFalse;

import io.efuse.csi.testing.BoundedWait;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The daemon's readiness (its /healthz in the chart) follows its connection to the fd keeper. */
class FsDaemonReadinessTest {
    private static final Duration BOUND = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    /**
     * Counts down when the daemon says it found no keeper at its socket: it has tried to connect. The log's lines go
     * to standard error (slf4j-simple looks it up at every line), so this watches them there and passes them on.
     */
    private static final class NoKeeperWarning extends PrintStream {
        final CountDownLatch seen = new CountDownLatch(1);
        private final StringBuilder line = new StringBuilder();

        NoKeeperWarning(PrintStream passOn) {
            super(passOn, true);
        }

        @Override
        public synchronized void write(int b) {
            super.write(b);
            note(b);
        }

        @Override
        public synchronized void write(byte[] buf, int off, int len) {
            super.write(buf, off, len);
            for (int i = off; i < off + len; i++) {
                note(buf[i]);
            }
        }

        private void note(int b) {
            if (b == '\n') {
                if (line.indexOf("FsDaemon - no fd keeper at") >= 0) {
                    seen.countDown();
                }
                line.setLength(0);
            } else {
                line.append((char) b);
            }
        }
    }

    @Test
    void aDaemonIsReadyWhileItsKeeperKnowsItAndNotWhileHandingOver() throws Exception {
        Path socket = dir.resolve("keeper.sock");
        PrintStream err = System.err;
        NoKeeperWarning warning = new NoKeeperWarning(err);
        System.setErr(warning);
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
            System.setErr(err);
        }
    }
}
