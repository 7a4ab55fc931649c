package io.efuse.csi.cli;

import static io.efuse.csi.cli.CliProcess.command;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.efuse.csi.fs.UringSwitch;
import io.efuse.csi.fuse.UringQueues;
import io.efuse.csi.testing.BoundedWait;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The node plugin's --enable-uring, through a standalone driver run as its own process. */
class EnableUringOptionTest {
    @TempDir
    Path tmp;

    @Test
    void theDriverTurnsTheSwitchOnBeforeServing() throws Exception {
        try (UringSwitch off = UringSwitch.set("N")) {
            Path log = tmp.resolve("log");
            Process p = new ProcessBuilder(command("standalone", "--enable-uring",
                    "--endpoint=unix://" + tmp.resolve("csi.sock"), "--state-dir=" + tmp.resolve("state"),
                    "--backing-root=" + tmp.resolve("data"))).redirectErrorStream(true).redirectOutput(log.toFile())
                    .start();
            try {
                BoundedWait.upTo(Duration.ofSeconds(60)).whileAlive(p).explainedBy(() -> Files.readString(log))
                        .until("the driver to say something about io_uring",
                                () -> Files.readString(log).contains("FUSE-over-io_uring"));
                String out = Files.readString(log);
                assertTrue(out.contains("enabled FUSE-over-io_uring (" + UringQueues.ENABLE_URING + " was N)"), out);
                assertEquals("Y", Files.readString(UringQueues.ENABLE_URING).trim());
            } finally {
                p.destroy();
                assertTrue(p.waitFor(30, TimeUnit.SECONDS), "the driver did not stop on SIGTERM");
            }
        }
    }
}
