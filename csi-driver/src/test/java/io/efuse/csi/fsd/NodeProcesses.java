package io.efuse.csi.fsd;

import io.efuse.csi.testing.BoundedWait;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Starts {@code efuse-csi keep}, {@code efuse-csi fsd} and the other roles as child JVMs (as on a node: separate
 * processes that can be killed independently), each logging to its own file, and stops whatever is
 * left when closed.
 */
public final class NodeProcesses implements AutoCloseable {
    private final Path dir;
    private final Path socket;
    private final List<Process> started = new ArrayList<>();
    private int count;

    public NodeProcesses(Path dir) {
        this.dir = dir;
        this.socket = dir.resolve("keeper.sock");
    }

    public Path socket() {
        return socket;
    }

    /** A child process with its log file. */
    public record Child(Process process, Path log) {
        public long pid() {
            return process.pid();
        }

        /** Waits (bounded) until the log contains text, n times in all. */
        public void awaitLog(String text, int n, Duration bound) throws IOException, InterruptedException {
            // polling a log file written by another process
            BoundedWait.upTo(bound).whileAlive(process).explainedBy(() -> log + ":\n" + logText())
                    .until("'" + text + "' (x" + n + ") in " + log, () -> occurrences(logText(), text) >= n);
        }

        private String logText() throws IOException {
            return Files.exists(log) ? Files.readString(log) : "";
        }

        private static int occurrences(String s, String text) {
            int found = 0;
            for (int i = s.indexOf(text); i >= 0; i = s.indexOf(text, i + 1)) {
                found++;
            }
            return found;
        }

        public void awaitLog(String text, Duration bound) throws IOException, InterruptedException {
            awaitLog(text, 1, bound);
        }

        /** The time the daemon reported for its last takeover ("serving again ... after N ms"), or -1. */
        public long takeoverMillis() throws IOException {
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("serving again at \\S+ after (\\d+) ms")
                    .matcher(Files.readString(log));
            long last = -1;
            while (m.find()) {
                last = Long.parseLong(m.group(1));
            }
            return last;
        }

        public void kill9() throws InterruptedException {
            process.destroyForcibly();
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                throw new AssertionError("process " + process.pid() + " survived SIGKILL for 30 s");
            }
        }

        /** SIGTERM and wait for the exit (bounded). */
        public int terminate(Duration bound) throws InterruptedException {
            process.destroy();
            if (!process.waitFor(bound.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new AssertionError("process " + process.pid() + " did not exit within " + bound.toSeconds()
                        + " s of SIGTERM");
            }
            return process.exitValue();
        }
    }

    Child keeper(Path stateRoot, String... volumes) throws IOException {
        List<String> args = new ArrayList<>(List.of("keep", "--socket", socket.toString(), "--state-root",
                stateRoot.toString(), "--timeout", "60", "--wait", "120"));
        for (String v : volumes) {
            args.add("--volume");
            args.add(v);
        }
        return start("keeper", args);
    }

    public Child fsd() throws IOException {
        return start("fsd", List.of("fsd", "--socket", socket.toString()));
    }

    private Child start(String role, List<String> args) throws IOException {
        return start(role, args, Map.of());
    }

    /** {@code efuse-csi ARGS...} as a child process with {@code env} added to this one's, logging to ROLE-N.log. */
    public Child start(String role, List<String> args, Map<String, String> env) throws IOException {
        Path log = dir.resolve(role + "-" + (++count) + ".log");
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(List.of("--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC", "-Xss512k", "-cp",
                System.getProperty("java.class.path"), "io.efuse.csi.cli.Main"));
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().putAll(env);
        Process p = pb.start();
        started.add(p);
        return new Child(p, log);
    }

    @Override
    public void close() throws InterruptedException {
        // Daemons first (SIGKILL: no handover), then the keeper: the mounts die with the last holder.
        for (Process p : started) {
            p.destroyForcibly();
        }
        for (Process p : started) {
            p.waitFor(30, TimeUnit.SECONDS);
        }
        // Kept for reading after a failure (the test's temporary directory is deleted).
        try {
            Path keep = Path.of("target", "fault-logs", dir.getFileName().toString());
            Files.createDirectories(keep);
            try (var logs = Files.list(dir)) {
                for (Path log : logs.filter(p -> p.toString().endsWith(".log")).toList()) {
                    Files.copy(log, keep.resolve(log.getFileName()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                }
            }
        } catch (IOException ignored) {
            // only a debugging aid
        }
    }
}
