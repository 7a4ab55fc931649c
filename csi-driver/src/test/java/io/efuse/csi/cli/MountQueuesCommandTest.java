package io.efuse.csi.cli;

import static io.efuse.csi.cli.CliProcess.command;
import static io.efuse.csi.cli.CliProcess.run;
import static org.junit.jupiter.api.Assertions.*;

import io.efuse.csi.fs.UringSwitch;
import io.efuse.csi.sys.MountTable;
import io.efuse.csi.testing.BoundedWait;
import io.efuse.csi.testing.ProcessRunner.Result;
import io.efuse.csi.testing.RequiresFuse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** efuse-csi mount --queues, run as a separate process. */
@RequiresFuse
class MountQueuesCommandTest {
    @TempDir
    Path tmp;
    Path backing;
    Path mnt;

    @BeforeEach
    void dirs() throws Exception {
        backing = Files.createDirectory(tmp.resolve("backing"));
        mnt = Files.createDirectory(tmp.resolve("mnt"));
    }

    @Test
    void uringQueuesServeAndTheDaemonSaysSo() throws Exception {
        try (UringSwitch on = UringSwitch.on()) {
            Process p = new ProcessBuilder(command("mount", "--queues", "uring", "--tier", "classic", "--backing",
                    backing.toString(), mnt.toString())).redirectErrorStream(true)
                    .redirectOutput(tmp.resolve("log").toFile()).start();
            try {
                BoundedWait.upTo(Duration.ofSeconds(30)).whileAlive(p)
                        .explainedBy(() -> Files.readString(tmp.resolve("log")))
                        .until("efuse-csi mount to mount " + mnt, () -> MountTable.isMountPoint(mnt));
                Files.writeString(mnt.resolve("f"), "over io_uring");
                assertEquals("over io_uring", Files.readString(backing.resolve("f")));
                Result r = run(command("umount", mnt.toString()));
                assertEquals(ExitCodes.OK, r.exit(), r.output());
                assertTrue(p.waitFor(30, TimeUnit.SECONDS));
                assertEquals(ExitCodes.OK, p.exitValue());
                String log = Files.readString(tmp.resolve("log"));
                assertTrue(log.contains("queues=uring"), log);
                assertTrue(log.contains("serving over io_uring"), log);
            } finally {
                p.destroyForcibly();
            }
        }
    }

    @Test
    void uringWhereTheKernelHasItOffFailsWithItsOwnExitCode() throws Exception {
        Result r;
        try (UringSwitch off = UringSwitch.set("N")) {
            r = run(command("mount", "--queues", "uring", "--backing", backing.toString(), mnt.toString()));
        }
        assertEquals(ExitCodes.QUEUES_UNAVAILABLE, r.exit(), r.output());
        assertTrue(r.output().contains("enable_uring"), r.output());
        assertFalse(MountTable.isMountPoint(mnt));
    }

    @Test
    void unknownQueuesIsAUsageError() throws Exception {
        Result r = run(command("mount", "--queues", "rings", "--backing", backing.toString(), mnt.toString()));
        assertEquals(ExitCodes.USAGE, r.exit());
        assertTrue(r.output().contains("rings") && r.output().contains("auto, dev or uring"), r.output());
    }
}
