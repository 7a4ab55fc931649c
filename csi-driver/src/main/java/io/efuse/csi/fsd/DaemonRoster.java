package io.efuse.csi.fsd;

import io.efuse.csi.fsd.FdKeeper.Held;
import io.efuse.csi.fsd.KeeperMessage.Type;
import io.efuse.csi.sys.ErrnoException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The daemons connected to the keeper: the one that serves, the standbys waiting in line, what the serving one
 * announced, and how often the volumes were handed to a daemon. Shares the keeper's lock: every method is called
 * with it held, and waits for a daemon on it ({@code lock.wait}, woken by {@code lock.notifyAll}), so that a
 * change of daemon and a change of the held volumes are seen in one order.
 */
final class DaemonRoster {
    /** Logs as the keeper: these lines are the keeper's, and operators and tests know them by that name. */
    private static final Logger LOG = LoggerFactory.getLogger(FdKeeper.class);

    private final Object lock;
    private final HeldVolumes held;
    private final PendingAnswers pending;
    private final ArrayDeque<ConnectedDaemon> standbys = new ArrayDeque<>();
    private ConnectedDaemon active;
    /** Volumes the serving daemon said it serves in its HELLO (their HOLDs follow). */
    private final Set<String> announced = new HashSet<>();
    private long handovers;

    DaemonRoster(Object lock, HeldVolumes held, PendingAnswers pending) {
        this.lock = lock;
        this.held = held;
        this.pending = pending;
    }

    /** The serving daemon, null while none serves. */
    ConnectedDaemon active() {
        return active;
    }

    boolean announced(String volumeId) {
        return announced.contains(volumeId);
    }

    /** The serving daemon no longer serves volumeId. */
    void released(String volumeId) {
        announced.remove(volumeId);
    }

    long activations() {
        return handovers;
    }

    void register(ConnectedDaemon d, String volumes) throws ErrnoException {
        Set<String> serves = volumes.isEmpty() ? Set.of() : Set.of(volumes.split(","));
        if (active != null) {
            standbys.add(d);
            d.servesAsStandby = serves;
            try {
                d.link.send(KeeperMessage.of(Type.STANDBY));
            } catch (ErrnoException e) {
                // A daemon that handed over at once (it waited for this keeper to take its descriptors) has shut
                // its side already; its HOLDs, carrying the descriptors, are still queued here and must be read.
                LOG.info("fd keeper: daemon {} no longer listens ({}); reading what it sent", d.pid,
                        e.getMessage());
            }
            if (serves.isEmpty()) {
                LOG.info("fd keeper: daemon {} is on standby", d.pid);
            } else {
                LOG.info("fd keeper: daemon {} is on standby but still serves {} volumes; they go to"
                        + " daemon {} when it hands them over or ends", d.pid, serves.size(), active.pid);
            }
            return;
        }
        activate(d, serves);
    }

    /**
     * Gives the serving daemon the volumes a standby served when it stops serving them (handed over or gone): their
     * descriptors are held here, so the connections are alive and only wait for a daemon.
     */
    private void giveToActive(ConnectedDaemon from) {
        Set<String> volumes = from.servesAsStandby;
        from.servesAsStandby = Set.of();
        if (volumes.isEmpty() || active == null) {
            return; // with no serving daemon, the next one is given every held volume when it is activated
        }
        int given = 0;
        for (String v : volumes) {
            Held h = held.get(v);
            if (h == null) {
                continue;
            }
            try {
                active.link.send(KeeperMessage.of(Type.ADOPT, "volume", h.volumeId(), "mountPoint",
                        h.mountPoint().toString(), "stateDir", h.stateDir().toString()).withFds(h.fds()));
                given++;
            } catch (ErrnoException e) {
                LOG.warn("fd keeper: cannot give " + v + " to daemon " + active.pid + ": " + e.getMessage());
            }
        }
        LOG.info("fd keeper: daemon {} stopped serving as a standby; {} volumes handed to daemon {}",
                from.pid, given, active.pid);
    }

    /** Makes d the serving daemon and gives it every held volume it does not already serve. */
    private void activate(ConnectedDaemon d, Set<String> serves) throws ErrnoException {
        active = d;
        announced.clear();
        announced.addAll(serves);
        int given = 0;
        for (Held h : held.all()) {
            if (!serves.contains(h.volumeId())) {
                d.link.send(KeeperMessage.of(Type.ADOPT, "volume", h.volumeId(), "mountPoint", h.mountPoint().toString(),
                        "stateDir", h.stateDir().toString()).withFds(h.fds()));
                given++;
            }
        }
        handovers++;
        LOG.info("fd keeper: daemon {} serves; {} volumes handed to it, {} it already serves", d.pid,
                given, serves.size());
        lock.notifyAll();
    }

    /** d sent DETACHED: it handed its volumes over. */
    void detached(ConnectedDaemon d) {
        if (active == d) {
            LOG.info("fd keeper: daemon {} handed over", d.pid);
            active = null;
            promote();
            lock.notifyAll();
        } else {
            giveToActive(d);
        }
    }

    /** d's connection ended. */
    void gone(ConnectedDaemon d) {
        if (standbys.remove(d)) {
            giveToActive(d);
        }
        if (active == d) {
            LOG.warn("fd keeper: serving daemon {} is gone; its volumes wait for the next one", d.pid);
            active = null;
            // Announced volumes whose HOLD never came died with it: nothing is left to wait for.
            announced.clear();
            pending.daemonGone();
            promote();
            lock.notifyAll();
        }
    }

    private void promote() {
        while (active == null && !standbys.isEmpty()) {
            ConnectedDaemon next = standbys.poll();
            try {
                activate(next, Set.of());
            } catch (ErrnoException e) {
                LOG.warn("fd keeper: standby daemon " + next.pid + " unreachable: " + e.getMessage());
                active = null;
                next.link.shutdown();
            }
        }
    }

    /** Waits until a daemon serves (at most timeout); false if none did. */
    boolean awaitDaemon(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (active == null) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return false;
            }
            TimeUnit.NANOSECONDS.timedWait(lock, left);
        }
        return true;
    }

    /**
     * Sends m to the serving daemon, waiting up to timeout for one. A daemon whose socket refuses the message
     * is going away (it handed over or died, and its end of stream is still being read): its departure is
     * waited for and the message goes to the next one. False if no daemon took it in time. The answer is
     * awaited by the caller, who registers for it while still holding the lock, so it cannot be missed.
     */
    boolean sendToDaemon(KeeperMessage m, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (awaitDaemon(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())))) {
            ConnectedDaemon d = active;
            try {
                d.link.send(m);
                return true;
            } catch (ErrnoException e) {
                LOG.info("fd keeper: daemon {} is going away ({}); waiting for the next one", d.pid,
                        e.getMessage());
                d.link.shutdown();
                while (active == d) {
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        return false;
                    }
                    TimeUnit.NANOSECONDS.timedWait(lock, left);
                }
            }
        }
        return false;
    }

    /** Shuts every daemon's connection (the keeper closes). */
    void shutdownAll() {
        if (active != null) {
            active.link.shutdown();
        }
        for (ConnectedDaemon d : standbys) {
            d.link.shutdown();
        }
    }
}
