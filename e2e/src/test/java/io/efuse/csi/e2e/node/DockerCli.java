package io.efuse.csi.e2e.node;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The docker command line, run with a bound on every call: for the image's build and the short `docker run
 * --rm` calls that ask the image something, spelled as an operator would. Containers that live through a test
 * are Testcontainers' ({@link NodeContainer}).
 */
final class DockerCli {

    record Result(int exitCode, String out, String err) {
        Result orFail(String what) {
            if (exitCode != 0) {
                throw new IllegalStateException(what + " failed (exit " + exitCode + "): " + err.strip() + " " + out.strip());
            }
            return this;
        }
    }

    private DockerCli() {
    }

    static boolean engineAnswers() {
        try {
            return run(Duration.ofSeconds(20), "info", "--format", "{{.ServerVersion}}").exitCode() == 0;
        } catch (RuntimeException e) {
            return false;
        }
    }

    static Result run(Duration timeout, String... args) {
        List<String> command = new ArrayList<>();
        command.add("docker");
        command.addAll(List.of(args));
        return exec(command, timeout);
    }

    /**
     * `docker run --rm` with the labels of {@link OwnedContainers}: the engine removes the container when it
     * exits, and one that outlives a killed run is found by them.
     */
    static Result runOnce(Duration timeout, String... args) {
        List<String> run = new ArrayList<>(List.of("run", "--rm"));
        OwnedContainers.ownerLabels().forEach((k, v) -> run.addAll(List.of("--label", k + "=" + v)));
        run.addAll(List.of(args));
        return run(timeout, run.toArray(String[]::new));
    }

    static Result exec(List<String> command, Duration timeout) {
        try {
            Process p = new ProcessBuilder(command).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
            var out = p.getInputStream();
            var err = p.getErrorStream();
            // drain both pipes while waiting, so that a chatty command cannot block on a full pipe
            var outText = java.util.concurrent.CompletableFuture.supplyAsync(() -> readAll(out));
            var errText = java.util.concurrent.CompletableFuture.supplyAsync(() -> readAll(err));
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException(String.join(" ", command) + " did not finish within " + timeout);
            }
            return new Result(p.exitValue(), outText.join(), errText.join());
        } catch (IOException e) {
            throw new IllegalStateException("cannot run " + command + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted: " + command, e);
        }
    }

    private static String readAll(java.io.InputStream in) {
        try (in) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }
}
