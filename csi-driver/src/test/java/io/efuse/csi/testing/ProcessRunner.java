package io.efuse.csi.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs a command to its end, within a bound, and keeps its exit status and its output (stderr included). */
public final class ProcessRunner {
    private ProcessRunner() {}

    /** How a command ended. */
    public record Result(List<String> command, int exit, String output) {
        public boolean ok() {
            return exit == 0;
        }

        /** The output of a command that succeeded; an IOException with the command and its output otherwise. */
        public String expectSuccess() throws IOException {
            if (exit != 0) {
                throw new IOException(String.join(" ", command) + " exited " + exit + ":\n" + output);
            }
            return output;
        }
    }

    public static Result run(Duration bound, String... command) throws IOException, InterruptedException {
        return run(List.of(command), null, bound);
    }

    public static Result run(List<String> command, Duration bound) throws IOException, InterruptedException {
        return run(command, null, bound);
    }

    /** Runs command in cwd (null: this process's directory); an IOException when it outlives bound. */
    public static Result run(List<String> command, Path cwd, Duration bound) throws IOException, InterruptedException {
        if (command.isEmpty()) {
            throw new IllegalArgumentException("no command to run");
        }
        // Output goes to a file, so that a process stuck in a system call cannot also block a reader of a pipe.
        Path out = Files.createTempFile("process-", ".out");
        try {
            ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(out.toFile());
            if (cwd != null) {
                pb.directory(cwd.toFile());
            }
            Process p = pb.start();
            if (!p.waitFor(bound.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                throw new IOException(String.join(" ", command) + " did not finish within " + bound.toMillis()
                        + " ms; its output so far:\n" + text(out));
            }
            return new Result(List.copyOf(command), p.exitValue(), text(out));
        } finally {
            Files.deleteIfExists(out);
        }
    }

    private static String text(Path out) throws IOException {
        return new String(Files.readAllBytes(out), StandardCharsets.UTF_8); // a tool's stray bytes are no failure
    }
}
