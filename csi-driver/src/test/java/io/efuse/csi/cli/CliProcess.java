package io.efuse.csi.cli;

import io.efuse.csi.testing.ProcessRunner;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** Runs efuse-csi as a process of its own, from this test run's classes, as users and scripts run it. */
final class CliProcess {
    private CliProcess() {}

    /** The command line of `efuse-csi ARGS...`. */
    static List<String> command(String... args) {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                "io.efuse.csi.cli.Main"));
        cmd.addAll(List.of(args));
        return cmd;
    }

    /** Runs cmd to its end (at most 60 s) and returns its exit code and its output, stderr included. */
    static ProcessRunner.Result run(List<String> cmd) throws Exception {
        return ProcessRunner.run(cmd, Duration.ofSeconds(60));
    }
}
