package io.efuse.csi.fsd;

import static io.efuse.csi.sys.LinuxConstants.*;

import io.efuse.csi.sys.Errno;
import io.efuse.csi.sys.ErrnoException;
import io.efuse.csi.sys.MountTable;
import io.efuse.csi.sys.Syscalls;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Looks at a mount point that may sit on a dead or stuck FUSE connection without ever hanging the
 * caller: every stat and unmount runs on its own thread and is given up after a bound (a thread stuck
 * on a dead mount stays blocked until the connection is aborted, which {@link #repair} does).
 */
public final class MountProbe {
    /** What a mount point looks like. */
    public enum State {
        /** Nothing is mounted there. */
        NOT_MOUNTED,
        /** A filesystem answers there. */
        ALIVE,
        /** A FUSE mount whose daemon is gone for good: ENOTCONN or ECONNABORTED. */
        DEAD,
        /** The stat did not come back in time: a connection nobody serves (or a very slow one). */
        HUNG
    }

    private MountProbe() {}

    public static State probe(Path mountPoint, Duration timeout) throws java.io.IOException {
        if (!MountTable.isMountPoint(mountPoint)) {
            return State.NOT_MOUNTED;
        }
        CompletableFuture<Integer> f = new CompletableFuture<>();
        Thread.ofPlatform().daemon(true).name("probe-" + mountPoint.getFileName()).start(() -> {
            try {
                Syscalls.statx(mountPoint);
                f.complete(0);
            } catch (ErrnoException e) {
                f.complete(e.errno());
            } catch (RuntimeException e) {
                f.completeExceptionally(e);
            }
        });
        try {
            int errno = f.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            return errno == Errno.ENOTCONN || errno == Errno.ECONNABORTED ? State.DEAD : State.ALIVE;
        } catch (TimeoutException e) {
            return State.HUNG;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return State.HUNG;
        } catch (ExecutionException e) {
            return State.ALIVE;
        }
    }

    /**
     * Clears a dead or hung FUSE mount from mountPoint: aborts its connection (so that anything blocked
     * on it returns) and detaches it. Returns what the probe found before.
     */
    public static State repair(Path mountPoint, Duration timeout) throws java.io.IOException {
        State s = probe(mountPoint, timeout);
        if (s == State.DEAD || s == State.HUNG) {
            MountTable.find(mountPoint).filter(e -> e.fsType().startsWith("fuse")).ifPresent(e -> {
                Path abort = Path.of("/sys/fs/fuse/connections/" + e.minor() + "/abort");
                try {
                    if (Files.exists(abort)) {
                        Files.writeString(abort, "1");
                    }
                } catch (java.io.IOException ignored) {
                    // not a FUSE mount, or already gone
                }
            });
            Syscalls.umount(mountPoint, MNT_DETACH | UMOUNT_NOFOLLOW);
        }
        return s;
    }
}
