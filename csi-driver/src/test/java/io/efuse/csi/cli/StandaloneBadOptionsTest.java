package io.efuse.csi.cli;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.efuse.csi.testing.Capabilities;
import io.efuse.csi.testing.ProcessRunner;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `efuse-csi standalone` refuses a negative grace and more workers per volume than a mount may have, at start. */
class StandaloneBadOptionsTest {
    @TempDir
    Path dir;

    private ProcessRunner.Result standalone(String... extra) throws Exception {
        List<String> args = new ArrayList<>(List.of("standalone", "--endpoint", "unix://" + dir.resolve("s"),
                "--state-dir", dir.resolve("state").toString(), "--backing-root", dir.resolve("backing").toString(),
                "--engine", "daemon"));
        args.addAll(List.of(extra));
        return CliProcess.run(CliProcess.command(args.toArray(String[]::new)));
    }

    @Test
    void aNegativeGraceIsRefusedAtStart() throws Exception {
        Capabilities.assumeFuse();
        ProcessRunner.Result r = standalone("--grace-seconds", "-1");
        assertNotEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("--grace-seconds must be zero or positive, not -1"), r.output());
        assertFalse(Files.exists(dir.resolve("s")), "no socket was served");
    }

    @Test
    void moreWorkersPerVolumeThanAMountMayHaveAreRefusedAtStart() throws Exception {
        Capabilities.assumeFuse();
        ProcessRunner.Result r = standalone("--workers-per-volume", "65");
        assertNotEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("--workers-per-volume must be between 0 (one per core) and 64, not 65"),
                r.output());
        assertFalse(Files.exists(dir.resolve("s")), "no socket was served");
    }
}
