package io.efuse.csi.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * A small C program of the test sources (src/test/c), compiled with gcc when a test first needs it,
 * into target/test-c. Used where only C can answer: the kernel header's struct layouts, and system
 * calls made by another user.
 */
public final class CProgram {
    private CProgram() {}

    /** The csi-driver module directory (surefire runs tests there and sets basedir). */
    public static Path moduleDir() {
        return Path.of(System.getProperty("basedir", System.getProperty("user.dir"))).toAbsolutePath();
    }

    /**
     * Compiles src/test/c/{name}.c (or the given source) to target/test-c/{name}, with extra gcc
     * arguments (include paths). Skips the calling test, saying why, when there is no gcc.
     */
    public static Path compile(String name, Path source, List<String> gccArgs) throws IOException, InterruptedException {
        Assumptions.assumeTrue(onPath("gcc"), "skipped: gcc is not installed (apt-get install gcc libc6-dev)");
        Path out = moduleDir().resolve("target/test-c").resolve(name);
        Files.createDirectories(out.getParent());
        List<String> cmd = new ArrayList<>(List.of("gcc", "-std=gnu11", "-O0", "-Wall", "-Werror", "-o", out.toString()));
        cmd.addAll(gccArgs);
        cmd.add(source.toString());
        Result r = run(cmd, 60);
        if (r.exit() != 0) {
            throw new IOException("gcc failed for " + source + " (exit " + r.exit() + "):\n" + r.output());
        }
        return out;
    }

    public static Path compile(String name) throws IOException, InterruptedException {
        return compile(name, moduleDir().resolve("src/test/c").resolve(name + ".c"), List.of());
    }

    /** What a process printed (stdout and stderr together) and its exit status. */
    public record Result(int exit, String output) {}

    public static Result run(List<String> cmd, int timeoutSeconds) throws IOException, InterruptedException {
        return run(cmd, null, timeoutSeconds);
    }

    public static Result run(List<String> cmd, Path cwd, int timeoutSeconds) throws IOException, InterruptedException {
        // Output goes to a file so that a process stuck in a system call cannot also block the reader.
        Path log = Files.createTempFile("cprogram-", ".out");
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
            if (cwd != null) {
                pb.directory(cwd.toFile());
            }
            Process p = pb.start();
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(cmd + " did not finish in " + timeoutSeconds + " s");
            }
            return new Result(p.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(log);
        }
    }

    public static boolean onPath(String tool) {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            if (Files.isExecutable(Path.of(dir, tool))) {
                return true;
            }
        }
        return false;
    }
}
