package io.efuse.csi.volume;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * stat(2) on a path that may sit on a dead or hung FUSE mount, with a bound: a hung daemon blocks stat forever,
 * so the call runs on its own virtual thread and is abandoned when the bound passes.
 */
public final class PathProbe {
    public enum State { PRESENT, MISSING, BROKEN }

    public record Result(State state, String detail) {}

    private final Duration timeout;

    public PathProbe(Duration timeout) {
        this.timeout = timeout;
    }

    public Result probe(Path path) {
        CompletableFuture<Result> f = new CompletableFuture<>();
        Thread.ofVirtual().name("stat " + path).start(() -> {
            try {
                Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                f.complete(new Result(State.PRESENT, ""));
            } catch (NoSuchFileException e) {
                f.complete(new Result(State.MISSING, "stat " + path + ": no such file or directory"));
            } catch (IOException e) {
                // ENOTCONN ("Transport endpoint is not connected") is the usual face of a dead FUSE connection
                f.complete(new Result(State.BROKEN, "stat " + path + ": " + e.getMessage()));
            }
        });
        try {
            return f.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            return new Result(State.BROKEN, "stat " + path + " did not answer within " + timeout.toMillis() + " ms");
        } catch (ExecutionException e) {
            return new Result(State.BROKEN, "stat " + path + ": " + e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Result(State.BROKEN, "stat " + path + ": interrupted");
        }
    }
}
