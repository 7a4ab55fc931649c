package io.efuse.csi.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
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
        ProcessRunner.Result r = ProcessRunner.run(cmd, Duration.ofSeconds(60));
        if (r.exit() != 0) {
            throw new IOException("gcc failed for " + source + " (exit " + r.exit() + "):\n" + r.output());
        }
        return out;
    }

    public static Path compile(String name) throws IOException, InterruptedException {
        return compile(name, moduleDir().resolve("src/test/c").resolve(name + ".c"), List.of());
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
