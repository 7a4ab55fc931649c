package io.efuse.csi.fsd;

import io.efuse.csi.fs.LiveChange;
import io.efuse.csi.fs.MountOptions;
import io.efuse.csi.fs.Tier;
import io.efuse.csi.fsd.KeeperMessage.Type;
import io.efuse.csi.sys.ErrnoException;
import io.efuse.csi.sys.SeqpacketSocket;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Holds a duplicate of every /dev/fuse descriptor of every volume the FUSE daemon host serves, so
 * that a daemon that dies or hands over leaves its connections alive: the kernel ends a connection's
 * requests in flight only when the last reference to its device files goes. Runs in the process that
 * owns the volumes (the CSI node plugin, or {@code efuse-csi keep}) and listens on a unix socket for
 * daemons. One daemon serves at a time; others that connect wait as standbys and are given every
 * volume (descriptors and state directory) the moment the serving one goes away. A restarted keeper
 * gets the descriptors back from the serving daemon, which reconnects and sends them again.
 *
 * <p>The held volumes are {@link HeldVolumes}, the daemons {@link DaemonRoster}, the requests to the serving daemon
 * {@link KeeperRequests}; all of them are guarded by this keeper's monitor, on which they also wait and notify.
 */
public final class FdKeeper implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(FdKeeper.class);

    /**
     * A volume's descriptors as held here.
     *
     * @param tier the I/O tier the daemon serves it with, as the daemon said (empty if it did not)
     */
    public record Held(String volumeId, Path mountPoint, Path stateDir, String tier, int[] fds) {}

    private final SeqpacketSocket listener;
    private final Path socketPath;
    private final Thread acceptor;
    private final HeldVolumes held = new HeldVolumes();
    /** Calls waiting for the serving daemon's answer about a volume, completed with the answer. */
    private final PendingAnswers pending = new PendingAnswers();
    private final DaemonRoster roster = new DaemonRoster(this, held, pending);
    private final KeeperRequests requests;
    private volatile boolean closed;

    private FdKeeper(SeqpacketSocket listener, Path socketPath) {
        this.listener = listener;
        this.socketPath = socketPath;
        this.requests = new KeeperRequests(this, socketPath, held, pending, roster);
        this.acceptor = Thread.ofPlatform().daemon(true).name("fd-keeper-accept").unstarted(this::acceptLoop);
    }

    /** Listens for daemons at socketPath. */
    public static FdKeeper start(Path socketPath) throws ErrnoException {
        FdKeeper k = new FdKeeper(SeqpacketSocket.listen(socketPath), socketPath);
        k.acceptor.start();
        LOG.info("fd keeper listening on {}", socketPath);
        return k;
    }

    public Path socketPath() {
        return socketPath;
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                SeqpacketSocket s = listener.accept();
                ConnectedDaemon d = new ConnectedDaemon(new KeeperLink(s));
                Thread.ofPlatform().daemon(true).name("fd-keeper-daemon").start(() -> serve(d));
            } catch (ErrnoException e) {
                if (!closed) {
                    LOG.error("fd keeper: " + e.getMessage());
                }
                return;
            }
        }
    }

    /** Reads a connected daemon's messages until its connection ends. */
    private void serve(ConnectedDaemon d) {
        try {
            KeeperMessage hello = d.link.receive();
            if (hello == null) {
                return;
            }
            if (hello.type() != Type.HELLO) {
                throw new IOException("daemon spoke " + hello.type() + " before HELLO");
            }
            d.pid = Long.parseLong(hello.get("pid", "0"));
            d.protocol = Integer.parseInt(hello.get("protocol", "1"));
            register(d, hello.get("volumes", ""));
            while (true) {
                KeeperMessage m = d.link.receive();
                if (m == null) {
                    break;
                }
                handle(d, m);
            }
        } catch (IOException | RuntimeException e) {
            LOG.warn("fd keeper: daemon " + d.pid + ": " + e.getMessage());
        } finally {
            gone(d);
            d.link.close();
        }
    }

    private synchronized void register(ConnectedDaemon d, String volumes) throws ErrnoException {
        roster.register(d, volumes);
    }

    private synchronized void handle(ConnectedDaemon d, KeeperMessage m) throws ErrnoException {
        switch (m.type()) {
            case HOLD -> {
                Held h = new Held(m.get("volume"), Path.of(m.get("mountPoint")), Path.of(m.get("stateDir")),
                        m.get("tier", ""), m.fds());
                held.hold(h);
                LOG.info("fd keeper: holding {} device descriptors of {}", h.fds().length, h.volumeId());
                notifyAll();
            }
            case RESIZED, MOUNTED, QUIESCED, RESUMED -> pending.complete(m.get("volume"), m, null);
            case MODIFIED -> {
                held.retier(m.get("volume"), m.get("tier", ""));
                pending.complete(m.get("volume"), m, null);
            }
            case FAILED -> pending.complete(m.get("volume"), m, m.get("error", "mount failed"));
            case RELEASED -> {
                held.drop(m.get("volume"));
                roster.released(m.get("volume"));
                pending.complete(m.get("volume"), m, null);
            }
            case DETACHED -> roster.detached(d);
            default -> throw new IllegalStateException("unexpected " + m.type() + " from a daemon");
        }
        closeUnexpected(m);
    }

    private static void closeUnexpected(KeeperMessage m) {
        if (m.type() != Type.HOLD) {
            HeldVolumes.closeAll(m.fds());
        }
    }

    private synchronized void gone(ConnectedDaemon d) {
        roster.gone(d);
    }

    /** Waits until a daemon serves (at most timeout); false if none did. */
    public synchronized boolean awaitDaemon(Duration timeout) throws InterruptedException {
        return roster.awaitDaemon(timeout);
    }

    /** Whether volumeId is served (held here, or announced by the serving daemon). */
    public synchronized boolean serves(String volumeId) {
        return held.contains(volumeId) || roster.announced(volumeId);
    }

    /** Whether a daemon serves now. */
    public synchronized boolean daemonConnected() {
        return roster.active() != null;
    }

    /** The descriptors held for volumeId, if any. */
    public synchronized Optional<Held> held(String volumeId) {
        return Optional.ofNullable(held.get(volumeId));
    }

    /**
     * The descriptors of a volume the serving daemon announced in its HELLO, once its HOLD arrived (it
     * follows the HELLO at once); empty if the volume is neither held nor announced, or if the HOLD did
     * not come within timeout.
     */
    public synchronized Optional<Held> awaitHeld(String volumeId, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!held.contains(volumeId) && roster.announced(volumeId)) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                break;
            }
            TimeUnit.NANOSECONDS.timedWait(this, left);
        }
        return Optional.ofNullable(held.get(volumeId));
    }

    public synchronized List<Held> held() {
        return List.copyOf(held.all());
    }

    /** The newest protocol version the serving daemon speaks, 0 while none serves. */
    public synchronized int daemonProtocol() {
        ConnectedDaemon active = roster.active();
        return active == null ? 0 : active.protocol;
    }

    /** How many times a daemon was given the volumes (the first start included). */
    public synchronized long activations() {
        return roster.activations();
    }

    /** Has the serving daemon mount a volume; returns once it is mounted and its descriptors are held here. */
    public void mount(String volumeId, MountOptions options, Path stateDir, Duration timeout)
            throws IOException, InterruptedException {
        requests.mount(volumeId, options, stateDir, timeout);
    }

    /**
     * Has the serving daemon unmount a volume. With no daemon within timeout, unmounts it here instead:
     * whoever asks is done with the volume, and a connection nobody serves would only hold its users
     * until a daemon comes.
     */
    public void unmount(String volumeId, Duration timeout) throws IOException, InterruptedException {
        requests.unmount(volumeId, timeout);
    }

    /**
     * Has the serving daemon apply new limits to a live volume and record them in its state. Needs a
     * daemon that speaks protocol version 2; an older one is refused with a message that says so.
     */
    public void resize(String volumeId, long maxBytes, long maxInodes, Duration timeout)
            throws IOException, InterruptedException {
        requests.resize(volumeId, maxBytes, maxInodes, timeout);
    }

    /**
     * Has the serving daemon hold back the changes to a live volume (a group snapshot): see
     * {@code EfuseMount.quiesce}. Returns the daemon's QUIESCED answer.
     */
    public KeeperMessage quiesce(String volumeId, Duration drain, Duration hold, Duration timeout)
            throws IOException, InterruptedException {
        return requests.quiesce(volumeId, drain, hold, timeout);
    }

    /** Ends a hold that {@link #quiesce} began; false if it had run out before. */
    public boolean resume(String volumeId, long generation, Duration timeout) throws IOException, InterruptedException {
        return requests.resume(volumeId, generation, timeout);
    }

    /**
     * Has the serving daemon apply new settings to a live volume, as {@link io.efuse.csi.fs.EfuseMount#change}
     * does, and returns what it applied and what waits for the next session. Needs a daemon that speaks protocol
     * version 3; an older one is refused with a message that says so.
     */
    public LiveChange modify(String volumeId, Tier tier, boolean writebackCache, Duration timeout)
            throws IOException, InterruptedException {
        return requests.modify(volumeId, tier, writebackCache, timeout);
    }

    /**
     * Stops listening and closes every held descriptor: connections whose daemon is gone die with this
     * (a keeper that exits for an upgrade leaves the serving daemon holding them; it reconnects).
     */
    @Override
    public synchronized void close() {
        closed = true;
        listener.close();
        held.dropAll();
        roster.shutdownAll();
        notifyAll();
    }

    @Override
    public String toString() {
        return "fd keeper at " + socketPath + " holding " + Arrays.toString(held.ids().toArray());
    }
}
