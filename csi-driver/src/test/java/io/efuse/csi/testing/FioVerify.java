package io.efuse.csi.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * fio writing random 4 KiB blocks into a directory and verifying them (crc32c), in the background, while a test
 * does something to what serves that directory. Its output goes to NAME.fio.log in a directory of the test's.
 */
public final class FioVerify {
    static final Path FIO = Path.of("/usr/bin/fio");

    private final Process process;
    private final Path log;

    private FioVerify(Process process, Path log) {
        this.process = process;
        this.log = log;
    }

    /**
     * Starts fio: two jobs of sizeMb MiB each in directory, written and verified loops times. Skips the test, saying
     * why, when fio is not installed.
     */
    public static FioVerify start(String name, Path directory, Path logDir, int sizeMb, int loops) throws IOException {
        Assumptions.assumeTrue(Files.isExecutable(FIO), "skipped: fio is not installed (" + FIO + ")");
        List<String> cmd = command(name, directory, sizeMb, loops);
        Path log = logDir.resolve(name + ".fio.log");
        return new FioVerify(new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start(),
                log);
    }

    static List<String> command(String name, Path directory, int sizeMb, int loops) {
        if (sizeMb < 1 || loops < 1) {
            throw new IllegalArgumentException("fio needs at least 1 MiB and 1 loop, not " + sizeMb + " MiB and "
                    + loops + " loops");
        }
        // no verify state file: an interrupted run must not leave one in the working directory
        return new ArrayList<>(List.of(FIO.toString(), "--name=" + name, "--directory=" + directory,
                "--size=" + sizeMb + "m", "--bs=4k", "--rw=randwrite", "--ioengine=psync", "--verify=crc32c",
                "--verify_fatal=1", "--do_verify=1", "--loops=" + loops, "--numjobs=2", "--group_reporting",
                "--verify_state_save=0"));
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /** Waits (at most bound) for fio to end and fails unless it wrote and verified everything without an error. */
    public void assertClean(Duration bound) throws IOException, InterruptedException {
        if (!process.waitFor(bound.toMillis(), TimeUnit.MILLISECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("fio did not finish within " + bound.toSeconds() + " s:\n" + output());
        }
        String out = output();
        if (process.exitValue() != 0) {
            throw new AssertionError("fio exited " + process.exitValue() + ":\n" + out);
        }
        if (!out.contains("err= 0")) {
            throw new AssertionError("fio reports errors:\n" + out);
        }
        if (out.contains("verify:") && out.contains("bad")) {
            throw new AssertionError("fio found data it did not write:\n" + out);
        }
    }

    public String output() throws IOException {
        return Files.exists(log) ? Files.readString(log) : "";
    }
}
