package io.efuse.csi.e2e.cluster;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Commands of the host (docker, the cluster's scripts), each with a bound; output is kept, never lost to a full pipe. */
final class Shell {

    record Result(String command, int exitCode, String out, String err) {
        String output() {
            return (out + err).strip();
        }

        Result orFail(String what) {
            if (exitCode != 0) {
                throw new IllegalStateException(what + " failed (exit " + exitCode + "): " + output());
            }
            return this;
        }
    }

    private Shell() {
    }

    static Result run(Duration bound, String... command) {
        String text = String.join(" ", command);
        try {
            Process p = new ProcessBuilder(List.of(command)).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
            CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> readAll(p.getInputStream()));
            CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> readAll(p.getErrorStream()));
            if (!p.waitFor(bound.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                return new Result(text, -1, "", text + " did not finish within " + bound);
            }
            return new Result(text, p.exitValue(), out.join(), err.join());
        } catch (IOException e) {
            return new Result(text, -1, "", "cannot run " + text + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Result(text, -1, "", "interrupted: " + text);
        }
    }

    private static String readAll(InputStream in) {
        try (in) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }
}
