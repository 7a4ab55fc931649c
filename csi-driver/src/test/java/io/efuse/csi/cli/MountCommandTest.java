package io.efuse.csi.cli;

import static io.efuse.csi.cli.CliProcess.command;
import static io.efuse.csi.cli.CliProcess.run;
import static org.junit.jupiter.api.Assertions.*;

import io.efuse.csi.sys.MountTable;
import io.efuse.csi.testing.BoundedWait;
import io.efuse.csi.testing.ProcessRunner.Result;
import io.efuse.csi.testing.RequiresFuse;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Runs efuse-csi mount/umount as separate processes, the way users and scripts do. */
@RequiresFuse
class MountCommandTest {
    @TempDir
    Path tmp;
    Path backing;
    Path mnt;

    @BeforeEach
    void dirs() throws IOException {
        backing = Files.createDirectory(tmp.resolve("backing"));
        mnt = Files.createDirectory(tmp.resolve("mnt"));
    }

    private void awaitMounted(Process p) throws Exception {
        BoundedWait.upTo(Duration.ofSeconds(30)).whileAlive(p).until("efuse-csi mount to mount " + mnt,
                () -> MountTable.isMountPoint(mnt));
    }

    @Test
    void sigtermUnmountsCleanly() throws Exception {
        Process p = new ProcessBuilder(command("mount", "--backing", backing.toString(), mnt.toString()))
                .redirectErrorStream(true).redirectOutput(tmp.resolve("log").toFile()).start();
        try {
            awaitMounted(p);
            Files.writeString(mnt.resolve("f"), "data");
            p.destroy(); // SIGTERM
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "exits after SIGTERM");
            assertFalse(MountTable.isMountPoint(mnt), "no mount left behind");
            assertEquals("data", Files.readString(backing.resolve("f")));
        } finally {
            p.destroyForcibly();
        }
    }

    @Test
    void umountCommandEndsTheServingProcess() throws Exception {
        Process p = new ProcessBuilder(command("mount", "--tier", "classic", "--backing", backing.toString(),
                mnt.toString())).redirectErrorStream(true).redirectOutput(tmp.resolve("log").toFile()).start();
        try {
            awaitMounted(p);
            Result r = run(command("umount", mnt.toString()));
            assertEquals(ExitCodes.OK, r.exit(), r.output());
            assertTrue(p.waitFor(30, TimeUnit.SECONDS));
            assertEquals(ExitCodes.OK, p.exitValue());
            String log = Files.readString(tmp.resolve("log"));
            assertTrue(log.contains("tier=classic"), log);
            assertTrue(log.contains("FUSE 7."), "logs the negotiated protocol: " + log);
        } finally {
            p.destroyForcibly();
        }
    }

    @Test
    void missingBackingDirectoryIsOneClearMessage() throws Exception {
        Result r = run(command("mount", "--backing", tmp.resolve("missing").toString(), mnt.toString()));
        assertEquals(ExitCodes.BAD_BACKING, r.exit());
        assertTrue(r.output().contains("does not exist"), r.output());
        assertEquals(1, r.output().strip().lines().count(), r.output());
    }

    @Test
    void busyMountPointIsOneClearMessage() throws Exception {
        Process p = new ProcessBuilder(command("mount", "--backing", backing.toString(), mnt.toString()))
                .redirectErrorStream(true).redirectOutput(tmp.resolve("log").toFile()).start();
        try {
            awaitMounted(p);
            Result r = run(command("mount", "--backing", backing.toString(), mnt.toString()));
            assertEquals(ExitCodes.BUSY, r.exit());
            assertTrue(r.output().contains("busy"), r.output());
        } finally {
            run(command("umount", mnt.toString()));
            p.waitFor(30, TimeUnit.SECONDS);
            p.destroyForcibly();
        }
    }

    @Test
    void nonRootCallerIsToldToBeRoot() throws Exception {
        // An unprivileged user cannot read the build's class path (under root's home), so it gets a copy.
        Path cp = Files.createTempDirectory("efuse-cli-cp");
        try {
            Files.setPosixFilePermissions(cp, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
            List<String> entries = new ArrayList<>();
            for (Class<?> c : List.of(Main.class, picocli.CommandLine.class, com.sun.jna.Native.class,
                    org.slf4j.LoggerFactory.class, org.slf4j.simple.SimpleLogger.class)) {
                Path src = Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI());
                Path dst = cp.resolve(entries.size() + "-" + src.getFileName());
                new ProcessBuilder("cp", "-r", src.toString(), dst.toString()).start().waitFor();
                new ProcessBuilder("chmod", "-R", "a+rX", dst.toString()).start().waitFor();
                entries.add(dst.toString());
            }
            List<String> cmd = new ArrayList<>(List.of("setpriv", "--reuid", "65534", "--regid", "65534",
                    "--clear-groups", Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "--enable-native-access=ALL-UNNAMED", "-cp", String.join(":", entries), "io.efuse.csi.cli.Main",
                    "mount", "--backing", backing.toString(), mnt.toString()));
            checkNotRoot(run(cmd));
        } finally {
            new ProcessBuilder("rm", "-rf", cp.toString()).start().waitFor();
        }
    }

    private static void checkNotRoot(Result r) {
        assertEquals(ExitCodes.NOT_PERMITTED, r.exit(), r.output());
        assertTrue(r.output().contains("root"), r.output());
    }

    @Test
    void missingDevFuseIsOneClearMessage() throws Exception {
        // A private mount namespace whose /dev has everything a JVM needs, but no fuse device.
        String inner = "mount -t tmpfs tmpfs /dev && for d in null:1:3 zero:1:5 random:1:8 urandom:1:9; do "
                + "IFS=: read n a b <<EOF\n$d\nEOF\nmknod -m 666 /dev/$n c $a $b; done && exec \"$@\"";
        List<String> cmd = new ArrayList<>(List.of("unshare", "-m", "--propagation", "private", "bash", "-c", inner, "sh"));
        cmd.addAll(command("mount", "--backing", backing.toString(), mnt.toString()));
        Result r = run(cmd);
        assertEquals(ExitCodes.NO_FUSE, r.exit(), r.output());
        assertTrue(r.output().contains("/dev/fuse"), r.output());
    }

    @Test
    void unknownTierIsAUsageError() throws Exception {
        Result r = run(command("mount", "--tier", "turbo", "--backing", backing.toString(), mnt.toString()));
        assertEquals(ExitCodes.USAGE, r.exit());
        assertTrue(r.output().contains("turbo"), r.output());
    }
}
