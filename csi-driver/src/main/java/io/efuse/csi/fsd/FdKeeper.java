package io.efuse.csi.fsd;

import io.efuse.csi.fs.LiveChange;
import io.efuse.csi.fs.MountOptions;
import io.efuse.csi.fs.Tier;
import io.efuse.csi.fsd.KeeperMessage.Type;
import io.efuse.csi.sys.ErrnoException;
import io.efuse.csi.sys.LinuxConstants;
import io.efuse.csi.sys.MountTable;
import io.efuse.csi.sys.SeqpacketSocket;
import io.efuse.csi.sys.Syscalls;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
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
    private final Map<String, Held> held = new LinkedHashMap<>();
    private final ArrayDeque<Daemon> standbys = new ArrayDeque<>();
    /** Calls waiting for the serving daemon's answer about a volume, completed with the answer. */
    private final Map<String, CompletableFuture<KeeperMessage>> pending = new LinkedHashMap<>();
    private Daemon active;
    /** Volumes the serving daemon said it serves in its HELLO (their HOLDs follow). */
    private final Set<String> announced = new HashSet<>();
    private long handovers;
    private volatile boolean closed;

    private FdKeeper(SeqpacketSocket listener, Path socketPath) {
        this.listener = listener;
        this.socketPath = socketPath;
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
                Daemon d = new Daemon(new KeeperLink(s));
                Thread.ofPlatform().daemon(true).name("fd-keeper-daemon").start(d::serve);
            } catch (ErrnoException e) {
                if (!closed) {
                    LOG.error("fd keeper: " + e.getMessage());
                }
                return;
            }
        }
    }

    /** A connected daemon. */
    private final class Daemon {
        final KeeperLink link;
        long pid;
        /** The newest fd keeper protocol version the daemon speaks. */
        int protocol = 1;
        /**
         * What a daemon put on standby said it serves: after a keeper restart the first daemon to connect serves,
         * and it may be an idle one while the other still serves volumes (both DaemonSets roll at once).
         */
        Set<String> servesAsStandby = Set.of();

        Daemon(KeeperLink link) {
            this.link = link;
        }

        void serve() {
            try {
                KeeperMessage hello = link.receive();
                if (hello == null) {
                    return;
                }
                if (hello.type() != Type.HELLO) {
                    throw new IOException("daemon spoke " + hello.type() + " before HELLO");
                }
                pid = Long.parseLong(hello.get("pid", "0"));
                protocol = Integer.parseInt(hello.get("protocol", "1"));
                register(this, hello.get("volumes", ""));
                while (true) {
                    KeeperMessage m = link.receive();
                    if (m == null) {
                        break;
                    }
                    handle(this, m);
                }
            } catch (IOException | RuntimeException e) {
                LOG.warn("fd keeper: daemon " + pid + ": " + e.getMessage());
            } finally {
                gone(this);
                link.close();
            }
        }
    }

    private synchronized void register(Daemon d, String volumes) throws ErrnoException {
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
    private void giveToActive(Daemon from) {
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
    private void activate(Daemon d, Set<String> serves) throws ErrnoException {
        active = d;
        announced.clear();
        announced.addAll(serves);
        int given = 0;
        for (Held h : held.values()) {
            if (!serves.contains(h.volumeId())) {
                d.link.send(KeeperMessage.of(Type.ADOPT, "volume", h.volumeId(), "mountPoint", h.mountPoint().toString(),
                        "stateDir", h.stateDir().toString()).withFds(h.fds()));
                given++;
            }
        }
        handovers++;
        LOG.info("fd keeper: daemon {} serves; {} volumes handed to it, {} it already serves", d.pid,
                given, serves.size());
        notifyAll();
    }

    private synchronized void handle(Daemon d, KeeperMessage m) throws ErrnoException {
        switch (m.type()) {
            case HOLD -> {
                Held h = new Held(m.get("volume"), Path.of(m.get("mountPoint")), Path.of(m.get("stateDir")),
                        m.get("tier", ""), m.fds());
                // The new set first, then the old one goes: a device file in both stays open throughout.
                Held old = held.put(h.volumeId(), h);
                if (old != null) {
                    closeAll(old.fds());
                }
                LOG.info("fd keeper: holding {} device descriptors of {}", h.fds().length, h.volumeId());
                notifyAll();
            }
            case RESIZED, MOUNTED, QUIESCED, RESUMED -> complete(m.get("volume"), m, null);
            case MODIFIED -> {
                Held h = held.get(m.get("volume"));
                if (h != null) {
                    held.put(h.volumeId(), new Held(h.volumeId(), h.mountPoint(), h.stateDir(), m.get("tier", ""),
                            h.fds()));
                }
                complete(m.get("volume"), m, null);
            }
            case FAILED -> complete(m.get("volume"), m, m.get("error", "mount failed"));
            case RELEASED -> {
                Held h = held.remove(m.get("volume"));
                if (h != null) {
                    closeAll(h.fds());
                }
                announced.remove(m.get("volume"));
                complete(m.get("volume"), m, null);
            }
            case DETACHED -> {
                if (active == d) {
                    LOG.info("fd keeper: daemon {} handed over", d.pid);
                    active = null;
                    promote();
                    notifyAll();
                } else {
                    giveToActive(d);
                }
            }
            default -> throw new IllegalStateException("unexpected " + m.type() + " from a daemon");
        }
        closeUnexpected(m);
    }

    private static void closeUnexpected(KeeperMessage m) {
        if (m.type() != Type.HOLD) {
            closeAll(m.fds());
        }
    }

    private void complete(String volume, KeeperMessage answer, String error) {
        CompletableFuture<KeeperMessage> f = pending.remove(volume);
        if (f != null) {
            if (error == null) {
                f.complete(answer);
            } else {
                f.completeExceptionally(new IOException(error));
            }
        }
    }

    private synchronized void gone(Daemon d) {
        if (standbys.remove(d)) {
            giveToActive(d);
        }
        if (active == d) {
            LOG.warn("fd keeper: serving daemon {} is gone; its volumes wait for the next one", d.pid);
            active = null;
            // Announced volumes whose HOLD never came died with it: nothing is left to wait for.
            announced.clear();
            for (Map.Entry<String, CompletableFuture<KeeperMessage>> e : pending.entrySet()) {
                e.getValue().completeExceptionally(new IOException("the daemon went away while working on "
                        + e.getKey()));
            }
            pending.clear();
            promote();
            notifyAll();
        }
    }

    private void promote() {
        while (active == null && !standbys.isEmpty()) {
            Daemon next = standbys.poll();
            try {
                activate(next, Set.of());
            } catch (ErrnoException e) {
                LOG.warn("fd keeper: standby daemon " + next.pid + " unreachable: " + e.getMessage());
                active = null;
                next.link.shutdown();
            }
        }
    }

    private static void closeAll(int[] fds) {
        for (int fd : fds) {
            Syscalls.close(fd);
        }
    }

    /** Waits until a daemon serves (at most timeout); false if none did. */
    public synchronized boolean awaitDaemon(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (active == null) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return false;
            }
            TimeUnit.NANOSECONDS.timedWait(this, left);
        }
        return true;
    }

    /** Whether volumeId is served (held here, or announced by the serving daemon). */
    public synchronized boolean serves(String volumeId) {
        return held.containsKey(volumeId) || announced.contains(volumeId);
    }

    /** Whether a daemon serves now. */
    public synchronized boolean daemonConnected() {
        return active != null;
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
        while (!held.containsKey(volumeId) && announced.contains(volumeId)) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                break;
            }
            TimeUnit.NANOSECONDS.timedWait(this, left);
        }
        return Optional.ofNullable(held.get(volumeId));
    }

    public synchronized List<Held> held() {
        return List.copyOf(held.values());
    }

    /** The newest protocol version the serving daemon speaks, 0 while none serves. */
    public synchronized int daemonProtocol() {
        return active == null ? 0 : active.protocol;
    }

    /** How many times a daemon was given the volumes (the first start included). */
    public synchronized long activations() {
        return handovers;
    }

    /** Has the serving daemon mount a volume; returns once it is mounted and its descriptors are held here. */
    public void mount(String volumeId, MountOptions options, Path stateDir, Duration timeout)
            throws IOException, InterruptedException {
        CompletableFuture<KeeperMessage> f = new CompletableFuture<>();
        synchronized (this) {
            if (held.containsKey(volumeId) || pending.containsKey(volumeId)) {
                throw new IOException("volume " + volumeId + " is already mounted or being mounted");
            }
            if (!sendToDaemon(KeeperMessage.of(Type.MOUNT, "volume", volumeId, "stateDir", stateDir.toString(),
                    "options", options.toText()), timeout)) {
                throw new IOException("no eFuse daemon connected to " + socketPath + " within " + timeout.toSeconds()
                        + " s to mount " + volumeId);
            }
            pending.put(volumeId, f);
        }
        await(f, volumeId, "mount", timeout);
    }

    /**
     * Has the serving daemon unmount a volume. With no daemon within timeout, unmounts it here instead:
     * whoever asks is done with the volume, and a connection nobody serves would only hold its users
     * until a daemon comes.
     */
    public void unmount(String volumeId, Duration timeout) throws IOException, InterruptedException {
        CompletableFuture<KeeperMessage> f = new CompletableFuture<>();
        Path stateDir;
        synchronized (this) {
            Held h = held.get(volumeId);
            if (h == null) {
                return;
            }
            stateDir = h.stateDir();
            if (!sendToDaemon(KeeperMessage.of(Type.UNMOUNT, "volume", volumeId), timeout)) {
                release(held.remove(volumeId));
                return;
            }
            pending.put(volumeId, f);
        }
        await(f, volumeId, "unmount", timeout);
        // The daemon discards the state of what it unmounts, but not what another process left there (a daemon that
        // did not serve the volume when asked, a file of a killed one): the volume is gone, and so is its state.
        deleteState(stateDir);
    }

    /** Ends a held volume without a daemon: detaches its mount, lets its connection go and drops its state. */
    private static void release(Held h) throws IOException {
        LOG.warn("fd keeper: no daemon serves {}; unmounting {} here", h.volumeId(), h.mountPoint());
        try {
            if (MountTable.isMountPoint(h.mountPoint())) {
                Syscalls.umount(h.mountPoint(), LinuxConstants.MNT_DETACH | LinuxConstants.UMOUNT_NOFOLLOW);
            }
        } finally {
            // the last references: the kernel ends the connection and whatever still waited on it
            closeAll(h.fds());
        }
        deleteState(h.stateDir());
    }

    /** A volume's state directory and the files in it (it holds no directories). */
    private static void deleteState(Path stateDir) throws IOException {
        if (Files.isDirectory(stateDir, LinkOption.NOFOLLOW_LINKS)) {
            try (var files = Files.list(stateDir)) {
                for (Path p : files.toList()) {
                    Files.deleteIfExists(p);
                }
            }
            Files.deleteIfExists(stateDir);
        }
    }

    /**
     * Has the serving daemon apply new limits to a live volume and record them in its state. Needs a
     * daemon that speaks protocol version 2; an older one is refused with a message that says so.
     */
    public void resize(String volumeId, long maxBytes, long maxInodes, Duration timeout)
            throws IOException, InterruptedException {
        ask(volumeId, "resize", "resize a live volume", timeout, KeeperMessage.of(Type.RESIZE, "volume", volumeId,
                "maxBytes", Long.toString(maxBytes), "maxInodes", Long.toString(maxInodes)));
    }

    /**
     * Has the serving daemon hold back the changes to a live volume (a group snapshot): see
     * {@code EfuseMount.quiesce}. Returns the daemon's QUIESCED answer.
     */
    public KeeperMessage quiesce(String volumeId, Duration drain, Duration hold, Duration timeout)
            throws IOException, InterruptedException {
        return ask(volumeId, "hold", "hold back the writes of a live volume", timeout.plus(drain),
                KeeperMessage.of(Type.QUIESCE, "volume", volumeId, "drainMillis", Long.toString(drain.toMillis()),
                        "holdMillis", Long.toString(hold.toMillis())));
    }

    /** Ends a hold that {@link #quiesce} began; false if it had run out before. */
    public boolean resume(String volumeId, long generation, Duration timeout) throws IOException, InterruptedException {
        KeeperMessage m = ask(volumeId, "resume", "hold back the writes of a live volume", timeout,
                KeeperMessage.of(Type.RESUME, "volume", volumeId, "generation", Long.toString(generation)));
        return Boolean.parseBoolean(m.get("held"));
    }

    /**
     * Sends {@code request} about a held volume to the serving daemon and waits for its answer. A daemon older than
     * the request's type is refused with a message that says what it cannot do ({@code ability}).
     */
    private KeeperMessage ask(String volumeId, String what, String ability, Duration timeout, KeeperMessage request)
            throws IOException, InterruptedException {
        CompletableFuture<KeeperMessage> f = new CompletableFuture<>();
        synchronized (this) {
            if (!held.containsKey(volumeId)) {
                throw new IOException("volume " + volumeId + " is not held by this keeper");
            }
            if (!awaitDaemon(timeout)) {
                throw new IOException("no eFuse daemon connected to " + socketPath + " within " + timeout.toSeconds()
                        + " s to " + what + " " + volumeId);
            }
            if (active.protocol < request.type().since) {
                throw new IOException("the eFuse daemon (pid " + active.pid + ") speaks fd keeper protocol "
                        + active.protocol + ", which cannot " + ability + ": upgrade efuse-csi fsd");
            }
            if (pending.containsKey(volumeId)) {
                throw new IOException("volume " + volumeId + " is being mounted or unmounted");
            }
            if (!sendToDaemon(request, timeout)) {
                throw new IOException("no eFuse daemon connected to " + socketPath + " within " + timeout.toSeconds()
                        + " s to " + what + " " + volumeId);
            }
            pending.put(volumeId, f);
        }
        return await(f, volumeId, what, timeout);
    }

    /**
     * Has the serving daemon apply new settings to a live volume, as {@link io.efuse.csi.fs.EfuseMount#change}
     * does, and returns what it applied and what waits for the next session. Needs a daemon that speaks protocol
     * version 3; an older one is refused with a message that says so.
     */
    public LiveChange modify(String volumeId, Tier tier, boolean writebackCache, Duration timeout)
            throws IOException, InterruptedException {
        KeeperMessage answer = ask(volumeId, "change", "change a live volume", timeout, KeeperMessage.of(Type.MODIFY,
                "volume", volumeId, "tier", tier.label(), "writebackCache", Boolean.toString(writebackCache)));
        return new LiveChange(Tier.parse(answer.get("tier")), Boolean.parseBoolean(answer.get("tierWaits")),
                Boolean.parseBoolean(answer.get("writebackCacheWaits")));
    }

    /**
     * Sends m to the serving daemon, waiting up to timeout for one. A daemon whose socket refuses the message
     * is going away (it handed over or died, and its end of stream is still being read): its departure is
     * waited for and the message goes to the next one. False if no daemon took it in time. The answer is
     * awaited by the caller, who registers for it while still holding the lock, so it cannot be missed.
     */
    private boolean sendToDaemon(KeeperMessage m, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (awaitDaemon(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())))) {
            Daemon d = active;
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
                    TimeUnit.NANOSECONDS.timedWait(this, left);
                }
            }
        }
        return false;
    }

    private KeeperMessage await(CompletableFuture<KeeperMessage> f, String volumeId, String what, Duration timeout)
            throws IOException, InterruptedException {
        try {
            return f.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw new IOException(what + " " + volumeId + ": " + e.getCause().getMessage(), e.getCause());
        } catch (TimeoutException e) {
            synchronized (this) {
                pending.remove(volumeId);
            }
            throw new IOException(what + " " + volumeId + ": no answer from the daemon within " + timeout.toSeconds() + " s");
        }
    }

    /**
     * Stops listening and closes every held descriptor: connections whose daemon is gone die with this
     * (a keeper that exits for an upgrade leaves the serving daemon holding them; it reconnects).
     */
    @Override
    public synchronized void close() {
        closed = true;
        listener.close();
        for (Held h : held.values()) {
            closeAll(h.fds());
        }
        held.clear();
        if (active != null) {
            active.link.shutdown();
        }
        for (Daemon d : standbys) {
            d.link.shutdown();
        }
        notifyAll();
    }

    @Override
    public String toString() {
        return "fd keeper at " + socketPath + " holding " + Arrays.toString(held.keySet().toArray());
    }
}
