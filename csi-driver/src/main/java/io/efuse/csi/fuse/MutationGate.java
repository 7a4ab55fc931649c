package io.efuse.csi.fuse;

import io.efuse.csi.fuse.FuseStructs.OpenIn;
import io.efuse.csi.sys.LinuxConstants;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Holds back the requests that change a mount's data or names while it is closed, and lets a closer wait until the
 * ones already running have finished. A group snapshot closes the gates of all its members before it takes any of
 * them, so each member shows exactly the changes that finished before the last gate closed (see docs/csi.md).
 *
 * <p>Requests pass an open gate with one atomic increment and one volatile read, so the gate costs nothing worth
 * measuring while nobody closes it. A closed gate reopens by itself at the deadline its closer gave, so that a
 * closer that died (a node plugin killed mid-snapshot) cannot leave a volume's writers blocked.
 */
public final class MutationGate {
    private final AtomicLong running = new AtomicLong();
    private final Object monitor = new Object();
    private volatile boolean closed;
    /** When a closed gate opens by itself (System.nanoTime). */
    private long reopenAt;
    private long generation;

    /** Whether a request with this opcode may change data or names (an open may truncate, or make a writer). */
    static boolean mutates(FuseRequest rq) {
        return switch (rq.opcode()) {
            case FuseOpcode.SETATTR, FuseOpcode.SYMLINK, FuseOpcode.MKNOD, FuseOpcode.MKDIR, FuseOpcode.UNLINK,
                    FuseOpcode.RMDIR, FuseOpcode.RENAME, FuseOpcode.RENAME2, FuseOpcode.LINK, FuseOpcode.CREATE,
                    FuseOpcode.WRITE, FuseOpcode.SETXATTR, FuseOpcode.REMOVEXATTR, FuseOpcode.FALLOCATE,
                    FuseOpcode.COPY_FILE_RANGE, FuseOpcode.TMPFILE -> true;
            case FuseOpcode.OPEN -> {
                int flags = rq.u32(OpenIn.FLAGS);
                yield (flags & LinuxConstants.O_ACCMODE) != LinuxConstants.O_RDONLY
                        || (flags & LinuxConstants.O_TRUNC) != 0;
            }
            default -> false;
        };
    }

    /** Waits while the gate is closed, then counts the caller as running until {@link #leave}. */
    public void enter() {
        running.incrementAndGet();
        if (!closed) {
            return;
        }
        running.decrementAndGet();
        synchronized (monitor) {
            monitor.notifyAll(); // a closer may be waiting for running to reach zero
            while (closed) {
                if (expired()) {
                    closed = false;
                    monitor.notifyAll();
                } else if (!waitUntilReopen()) {
                    break;
                }
            }
            running.incrementAndGet();
        }
    }

    public void leave() {
        if (running.decrementAndGet() == 0 && closed) {
            synchronized (monitor) {
                monitor.notifyAll();
            }
        }
    }

    /**
     * Closes the gate and waits up to {@code drain} for the requests running to finish. The gate reopens by itself
     * {@code hold} after it closed unless {@link #open} came first. Returns a generation to give {@link #open}, so
     * that opening after the deadline cannot open a gate that someone else closed since.
     *
     * @throws GateBusyException if a closer holds it already or the running requests did not finish in time (the
     *                           gate is open again then)
     */
    public long close(Duration drain, Duration hold) throws GateBusyException, InterruptedException {
        synchronized (monitor) {
            if (closed && !expired()) {
                throw new GateBusyException("the volume is held for another snapshot");
            }
            closed = true;
            long now = System.nanoTime();
            reopenAt = now + hold.toNanos();
            long gen = ++generation;
            long drainEnd = now + drain.toNanos();
            while (running.get() > 0) {
                long left = drainEnd - System.nanoTime();
                if (left <= 0) {
                    closed = false;
                    monitor.notifyAll();
                    throw new GateBusyException(running.get() + " requests that change the volume did not finish within "
                            + drain.toMillis() + " ms");
                }
                monitor.wait(Math.max(1, left / 1_000_000));
            }
            return gen;
        }
    }

    /**
     * Opens the gate that {@link #close} with this generation closed; a later close is left alone. Returns whether
     * the gate was still held for that close, false if it had opened by itself at its deadline since.
     */
    public boolean open(long gen) {
        synchronized (monitor) {
            if (gen != generation || !closed) {
                return false;
            }
            boolean held = !expired();
            closed = false;
            monitor.notifyAll();
            return held;
        }
    }

    /** Whether the gate holds requests back now. */
    public boolean isClosed() {
        synchronized (monitor) {
            return closed && !expired();
        }
    }

    private boolean expired() {
        return System.nanoTime() - reopenAt >= 0;
    }

    /** False if interrupted: a worker is interrupted only when its session ends, and then it may as well pass. */
    private boolean waitUntilReopen() {
        long left = reopenAt - System.nanoTime();
        try {
            monitor.wait(Math.max(1, left / 1_000_000));
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** The gate could not be closed now. */
    public static final class GateBusyException extends Exception {
        public GateBusyException(String message) {
            super(message);
        }
    }
}
