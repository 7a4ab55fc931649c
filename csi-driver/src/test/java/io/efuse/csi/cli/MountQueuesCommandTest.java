package io.efuse.csi.cli;

import static org.junit.jupiter.api.Assertions.*;

import io.efuse.csi.fs.FuseAvailability;
import io.efuse.csi.fs.UringSwitch;
import io.efuse.csi.sys.MountTable;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** efuse-csi mount --queues, run as a separate process. */
class MountQueuesCommandTest {
    @TempDir
    Path tmp;
    Path backing;
    Path mnt;

    @BeforeEach
    void dirs() throws Exception {
        FuseAvailability.assumeFuseMountable();
        backing = Files.createDirectory(tmp.resolve("backing"));
        mnt = Files.createDirectory(tmp.resolve("mnt"));
    }

    private static List<String> java(String... args) {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                "io.efuse.csi.cli.Main"));
        cmd.addAll(List.of(args));
        return cmd;
    }

    private record Result(int code, String output) {}

    private static Result run(List<String> cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        return new Result(p.exitValue(), out);
    }

    @Test
    void uringQueuesServeAndTheDaemonSaysSo() throws Exception {
        try (UringSwitch on = UringSwitch.on()) {
            Process p = new ProcessBuilder(java("mount", "--queues", "uring", "--tier", "classic", "--backing",
                    backing.toString(), mnt.toString())).redirectErrorStream(true)
                    .redirectOutput(tmp.resolve("log").toFile()).start();
            try {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (!MountTable.isMountPoint(mnt)) {
                    assertTrue(p.isAlive(), "efuse-csi mount exited early: " + Files.readString(tmp.resolve("log")));
                    assertTrue(System.nanoTime() < deadline, "not mounted within 30 s");
                    Thread.sleep(20);
                }
                Files.writeString(mnt.resolve("f"), "over io_uring");
                assertEquals("over io_uring", Files.readString(backing.resolve("f")));
                Result r = run(java("umount", mnt.toString()));
                assertEquals(ExitCodes.OK, r.code(), r.output());
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
            r = run(java("mount", "--queues", "uring", "--backing", backing.toString(), mnt.toString()));
        }
        assertEquals(ExitCodes.QUEUES_UNAVAILABLE, r.code(), r.output());
        assertTrue(r.output().contains("enable_uring"), r.output());
        assertFalse(MountTable.isMountPoint(mnt));
    }

    @Test
    void unknownQueuesIsAUsageError() throws Exception {
        Result r = run(java("mount", "--queues", "rings", "--backing", backing.toString(), mnt.toString()));
        assertEquals(ExitCodes.USAGE, r.code());
        assertTrue(r.output().contains("rings") && r.output().contains("auto, dev or uring"), r.output());
    }
}
