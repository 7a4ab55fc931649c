package io.efuse.csi.cli;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs efuse-csi as a process of its own, from this test run's classes, as users and scripts run it. */
final class CliProcess {
    private CliProcess() {}

    record Result(int code, String output) {}

    /** The command line of `efuse-csi ARGS...`. */
    static List<String> command(String... args) {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                "io.efuse.csi.cli.Main"));
        cmd.addAll(List.of(args));
        return cmd;
    }

    /** Runs cmd to its end (at most 60 s) and returns its exit code and its output, stderr included. */
    static Result run(List<String> cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "still running after 60 s: " + cmd);
        return new Result(p.exitValue(), out);
    }
}
