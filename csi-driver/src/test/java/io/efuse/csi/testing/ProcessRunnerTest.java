package io.efuse.csi.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProcessRunnerTest {
    private static final Duration BOUND = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    @Test
    void keepsTheExitStatusAndBothStreamsInOrder() throws Exception {
        ProcessRunner.Result r = ProcessRunner.run(BOUND, "sh", "-c", "echo out; echo err >&2; exit 3");
        assertEquals(3, r.exit());
        assertEquals("out\nerr\n", r.output());
        assertFalse(r.ok());
    }

    @Test
    void aFailedCommandsOutputIsItsFailure() throws Exception {
        ProcessRunner.Result r = ProcessRunner.run(BOUND, "sh", "-c", "echo no space left; exit 1");
        IOException e = assertThrows(IOException.class, r::expectSuccess);
        assertEquals("sh -c echo no space left; exit 1 exited 1:\nno space left\n", e.getMessage());
        assertEquals("fine\n", ProcessRunner.run(BOUND, "echo", "fine").expectSuccess());
    }

    @Test
    void runsInTheDirectoryItIsGiven() throws Exception {
        assertEquals(dir.toRealPath() + "\n", ProcessRunner.run(List.of("pwd", "-P"), dir, BOUND).output());
    }

    @Test
    void aCommandOutlivingItsBoundIsEndedAndReported() throws Exception {
        long t0 = System.nanoTime();
        IOException e = assertThrows(IOException.class,
                () -> ProcessRunner.run(Duration.ofMillis(300), "sh", "-c", "echo started; exec sleep 60"));
        assertTrue(e.getMessage().startsWith("sh -c echo started; exec sleep 60 did not finish within 300 ms"),
                e.getMessage());
        assertTrue(e.getMessage().endsWith("started\n"), e.getMessage());
        assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(30));
    }

    @Test
    void noCommandIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> ProcessRunner.run(List.of(), BOUND));
    }
}
