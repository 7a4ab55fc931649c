package io.efuse.csi.fsd;

import io.efuse.csi.fs.EfuseMount;
import io.efuse.csi.fs.LiveChange;
import io.efuse.csi.fs.MountObserver;
import io.efuse.csi.fs.MountOptions;
import io.efuse.csi.fs.Tier;
import io.efuse.csi.fsd.KeeperMessage.Type;
import io.efuse.csi.sys.ErrnoException;
import io.efuse.csi.sys.LibC;
import io.efuse.csi.sys.SeqpacketSocket;
import io.efuse.csi.sys.Syscalls;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The FUSE daemon host: serves every volume the fd keeper gives it or asks it to mount, each as a
 * recoverable {@link EfuseMount}. It connects to the keeper's socket (again and again while the keeper
 * restarts), tells the keeper what it serves and hands it the device descriptors of every volume.
 * {@link #handOver} (SIGTERM) stops serving without unmounting so that the next daemon continues.
 */
public final class FsDaemon {
    private static final Logger LOG = LoggerFactory.getLogger(FsDaemon.class);

    private final Path socket;
    private final Map<String, EfuseMount> mounts = new LinkedHashMap<>();
    private final MountObserver observer;
    /** What the observer returned for each served volume; closed when the volume stops being served here. */
    private final Map<String, MountObserver.Report> reports = new LinkedHashMap<>();
    private volatile KeeperLink link;
    private volatile boolean stopping;
    private volatile boolean standby;

    /** How long a handover waits for an fd keeper, within the chart's 60 s termination grace period. */
    public static final int DEFAULT_KEEPER_WAIT_SECONDS = 45;

    public static final Duration DEFAULT_KEEPER_WAIT = Duration.ofSeconds(DEFAULT_KEEPER_WAIT_SECONDS);

    public FsDaemon(Path socket) {
        this(socket, MountObserver.NONE);
    }

    /** @param observer told of every volume this daemon serves, fresh or adopted (e.g. to export its figures) */
    public FsDaemon(Path socket, MountObserver observer) {
        this.socket = socket;
        this.observer = observer;
    }

    /**
     * Whether the daemon is connected to the fd keeper and not handing over: it serves its volumes or stands by
     * for them. A daemon that is not cannot take a volume over, so an update must not retire the one before it.
     */
    public boolean connected() {
        return link != null && !stopping;
    }

    /** Serves until {@link #handOver} or until interrupted; reconnects whenever the keeper goes away. */
    public void run() throws InterruptedException {
        LOG.info("pid {}, fd keeper {}", ProcessHandle.current().pid(), socket);
        boolean warned = false;
        while (!stopping) {
            KeeperLink l;
            try {
                l = new KeeperLink(SeqpacketSocket.connect(socket));
            } catch (ErrnoException e) {
                if (!warned) {
                    LOG.warn("no fd keeper at {} ({}); retrying", socket, e.getMessage());
                    warned = true;
                }
                Thread.sleep(50); // polling for a socket that does not exist yet: nothing to wait on
                continue;
            }
            warned = false;
            try {
                serve(l);
            } catch (IOException | RuntimeException e) {
                if (!stopping) {
                    LOG.warn("fd keeper connection: " + e.getMessage());
                }
            } finally {
                link = null;
                l.close();
            }
            if (!stopping) {
                LOG.warn("fd keeper went away; serving on and reconnecting");
            }
        }
    }

    private void serve(KeeperLink l) throws IOException {
        synchronized (this) {
            if (stopping) {
                return;
            }
            link = l;
            l.send(KeeperMessage.of(Type.HELLO, "pid", Long.toString(ProcessHandle.current().pid()),
                    "volumes", String.join(",", mounts.keySet()), "protocol", Integer.toString(KeeperMessage.VERSION)));
            for (Map.Entry<String, EfuseMount> e : mounts.entrySet()) {
                hold(l, e.getKey(), e.getValue());
            }
            notifyAll(); // a handover waiting for a keeper that holds the volumes
        }
        while (true) {
            KeeperMessage m = l.receive();
            if (m == null) {
                return;
            }
            synchronized (this) {
                if (stopping) {
                    closeFds(m.fds());
                    return;
                }
                handle(l, m);
            }
        }
    }

    private void handle(KeeperLink l, KeeperMessage m) throws ErrnoException {
        switch (m.type()) {
            case STANDBY -> {
                standby = true;
                try {
                    long t0 = System.nanoTime();
                    EfuseMount.prepareForAdoption();
                    // Also brings up the logging system, which a takeover would otherwise pay for.
                    LOG.info("warmed up for a takeover in {} ms", (System.nanoTime() - t0) / 1_000_000);
                } catch (IOException | RuntimeException e) {
                    LOG.warn("warming up for a takeover: " + e.getMessage());
                }
                LOG.info("on standby: another daemon serves");
            }
            case ADOPT -> {
                standby = false;
                String volume = m.get("volume");
                long t0 = System.nanoTime();
                try {
                    EfuseMount mount = EfuseMount.adopt(Path.of(m.get("stateDir")), m.fds());
                    mounts.put(volume, mount);
                    report(volume, mount);
                    followDevices(volume, mount);
                    watch(volume, mount);
                    LOG.info("{}: serving again at {} after {} ms", volume, mount.mountPoint(),
                            (System.nanoTime() - t0) / 1_000_000);
                } catch (IOException | RuntimeException e) {
                    closeFds(m.fds());
                    LOG.error(volume + ": cannot take over: " + e.getMessage());
                }
            }
            case MOUNT -> {
                String volume = m.get("volume");
                try {
                    MountOptions options = MountOptions.fromText(m.get("options"));
                    EfuseMount mount = EfuseMount.mountRecoverable(options, Path.of(m.get("stateDir")));
                    mounts.put(volume, mount);
                    report(volume, mount);
                    hold(l, volume, mount);
                    followDevices(volume, mount);
                    l.send(KeeperMessage.of(Type.MOUNTED, "volume", volume));
                    watch(volume, mount);
                } catch (IOException | RuntimeException e) {
                    l.send(KeeperMessage.of(Type.FAILED, "volume", volume, "error", String.valueOf(e.getMessage())));
                }
            }
            case UNMOUNT -> {
                String volume = m.get("volume");
                EfuseMount mount = mounts.remove(volume);
                endReport(volume);
                if (mount != null) {
                    mount.close();
                }
                l.send(KeeperMessage.of(Type.RELEASED, "volume", volume));
            }
            case RESIZE -> {
                String volume = m.get("volume");
                EfuseMount mount = mounts.get(volume);
                try {
                    if (mount == null) {
                        throw new IOException("this daemon does not serve " + volume);
                    }
                    // A mount with neither limits nor a shown size shows what its backing filesystem enforces.
                    if (mount.options().limited() || mount.options().shownBytes() > 0) {
                        mount.resize(Long.parseLong(m.get("maxBytes")), Long.parseLong(m.get("maxInodes")));
                    }
                    l.send(KeeperMessage.of(Type.RESIZED, "volume", volume));
                } catch (IOException | RuntimeException e) {
                    l.send(KeeperMessage.of(Type.FAILED, "volume", volume, "error", String.valueOf(e.getMessage())));
                }
            }
            case QUIESCE -> {
                String volume = m.get("volume");
                EfuseMount mount = mounts.get(volume);
                try {
                    if (mount == null) {
                        throw new IOException("this daemon does not serve " + volume);
                    }
                    EfuseMount.Quiescence q = mount.quiesce(Duration.ofMillis(Long.parseLong(m.get("drainMillis"))),
                            Duration.ofMillis(Long.parseLong(m.get("holdMillis"))));
                    l.send(KeeperMessage.of(Type.QUIESCED, "volume", volume, "generation",
                            Long.toString(q.generation()), "passthroughWriters", Integer.toString(q.passthroughWriters()),
                            "writebackCache", Boolean.toString(q.writebackCache())));
                } catch (IOException | RuntimeException e) {
                    l.send(KeeperMessage.of(Type.FAILED, "volume", volume, "error", String.valueOf(e.getMessage())));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    l.send(KeeperMessage.of(Type.FAILED, "volume", volume, "error", "interrupted"));
                }
            }
            case RESUME -> {
                String volume = m.get("volume");
                EfuseMount mount = mounts.get(volume);
                boolean held = mount != null && mount.resume(Long.parseLong(m.get("generation")));
                l.send(KeeperMessage.of(Type.RESUMED, "volume", volume, "held", Boolean.toString(held)));
            }
            case MODIFY -> {
                String volume = m.get("volume");
                EfuseMount mount = mounts.get(volume);
                try {
                    if (mount == null) {
                        throw new IOException("this daemon does not serve " + volume);
                    }
                    LiveChange c = mount.change(Tier.parse(m.get("tier")),
                            Boolean.parseBoolean(m.get("writebackCache")));
                    l.send(KeeperMessage.of(Type.MODIFIED, "volume", volume, "tier", c.tier().label(), "tierWaits",
                            Boolean.toString(c.tierWaits()), "writebackCacheWaits",
                            Boolean.toString(c.writebackCacheWaits())));
                } catch (IOException | RuntimeException e) {
                    l.send(KeeperMessage.of(Type.FAILED, "volume", volume, "error", String.valueOf(e.getMessage())));
                }
            }
            default -> {
                closeFds(m.fds());
                LOG.warn("ignored {} from the fd keeper", m.type());
            }
        }
    }

    /**
     * Sends the volume's current device descriptors. Under the mount's lock, so that of two HOLDs racing
     * (a reconnect and a worker change) the one sent last carries the newest set.
     */
    private static void hold(KeeperLink l, String volume, EfuseMount mount) throws ErrnoException {
        synchronized (mount) {
            l.send(KeeperMessage.of(Type.HOLD, "volume", volume, "mountPoint", mount.mountPoint().toString(),
                    "stateDir", mount.stateDir().toString(), "tier", mount.tier().label()).withFds(mount.deviceFds()));
        }
    }

    /**
     * Sends the keeper the volume's device descriptors again whenever workers are added or retired: a
     * clone made after the first HOLD would otherwise die with this process, ending the requests it was
     * serving with ECONNABORTED. Sent without the daemon's lock (one sendmsg is atomic on the socket), so
     * that a worker change never waits for, or blocks, the keeper conversation. With no keeper connected,
     * the HOLDs sent on reconnecting carry the current set.
     */
    private void followDevices(String volume, EfuseMount mount) {
        mount.onDevicesChanged(fds -> {
            KeeperLink l = link;
            if (l == null || stopping) {
                return;
            }
            try {
                hold(l, volume, mount);
            } catch (ErrnoException e) {
                LOG.warn("{}: cannot give the fd keeper the new device descriptors: {}", volume,
                        e.getMessage());
            }
        });
    }

    /** The mount serving volume, or null (for tests that change a live mount, e.g. its workers). */
    synchronized EfuseMount mount(String volume) {
        return mounts.get(volume);
    }

    /** Tells the keeper when a volume is unmounted from outside, so that it lets its descriptors go. */
    private void watch(String volume, EfuseMount mount) {
        Thread.ofVirtual().name("watch-" + volume).start(() -> {
            try {
                mount.awaitUnmount();
            } catch (InterruptedException e) {
                return;
            }
            synchronized (this) {
                if (stopping || mounts.get(volume) != mount) {
                    return;
                }
                mounts.remove(volume);
                endReport(volume);
                KeeperLink l = link;
                if (l != null) {
                    try {
                        l.send(KeeperMessage.of(Type.RELEASED, "volume", volume));
                    } catch (ErrnoException ignored) {
                        // the keeper is gone; a new one never learns of this volume
                    }
                }
            }
        });
    }

    private void report(String volume, EfuseMount mount) {
        endReport(volume);
        reports.put(volume, observer.served(volume, mount));
    }

    private void endReport(String volume) {
        MountObserver.Report r = reports.remove(volume);
        if (r != null) {
            r.close();
        }
    }

    private static void closeFds(int[] fds) {
        for (int fd : fds) {
            Syscalls.close(fd);
        }
    }

    public synchronized int volumeCount() {
        return mounts.size();
    }

    public boolean standby() {
        return standby;
    }

    /** {@link #handOver(Duration)} with {@link #DEFAULT_KEEPER_WAIT}. */
    public long handOver() {
        return handOver(DEFAULT_KEEPER_WAIT);
    }

    /**
     * Planned handover: every volume stops being served (requests in progress are finished, new ones
     * wait in the kernel), its state is closed, and the keeper is told to give the volumes to the next
     * daemon. Nothing is unmounted. Returns the time it took in milliseconds.
     *
     * <p>A daemon that serves volumes while no keeper is connected (the node plugin is restarting, as in an
     * upgrade that rolls both DaemonSets at once) holds their only descriptors: exiting then would end every
     * connection, and the applications on them would see ENOTCONN. It first waits, at most {@code keeperWait},
     * for a keeper to connect and take the descriptors.
     */
    public long handOver(Duration keeperWait) {
        long t0 = System.nanoTime();
        synchronized (this) {
            long deadline = t0 + keeperWait.toNanos();
            boolean waited = false;
            while (link == null && !mounts.isEmpty() && System.nanoTime() < deadline) {
                if (!waited) {
                    LOG.warn("handover: no fd keeper holds the {} volume(s) this daemon serves; waiting up to {} s"
                            + " for one", mounts.size(), keeperWait.toSeconds());
                    waited = true;
                }
                try {
                    wait(Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
            if (link == null && !mounts.isEmpty()) {
                LOG.error("handover: still no fd keeper after {} s: the connections of {} volume(s) end with this"
                        + " daemon", keeperWait.toSeconds(), mounts.size());
            }
            stopping = true;
            for (Map.Entry<String, EfuseMount> e : mounts.entrySet()) {
                try {
                    if (!e.getValue().detach(5, TimeUnit.SECONDS)) {
                        LOG.warn("{}: workers did not stop within 5 s", e.getKey());
                    }
                } catch (IOException | InterruptedException ex) {
                    LOG.warn(e.getKey() + ": " + ex.getMessage());
                }
            }
            mounts.clear();
            // Not ended: the next daemon reports the same volumes again, and this process is about to exit.
            reports.clear();
            KeeperLink l = link;
            if (l != null) {
                try {
                    l.send(KeeperMessage.of(Type.DETACHED));
                } catch (ErrnoException e) {
                    LOG.warn("cannot tell the fd keeper about the handover: " + e.getMessage());
                }
                l.shutdown();
            }
        }
        long ms = (System.nanoTime() - t0) / 1_000_000;
        // Logged from the shutdown hook (SIGTERM): slf4j-simple writes straight to stderr and has no hook of its own.
        LOG.info("handed over in {} ms (pid {})", ms, LibC.getpid());
        return ms;
    }
}
