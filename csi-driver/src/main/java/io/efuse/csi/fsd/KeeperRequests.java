package io.efuse.csi.fsd;

import io.efuse.csi.fs.LiveChange;
import io.efuse.csi.fs.MountOptions;
import io.efuse.csi.fs.Tier;
import io.efuse.csi.fsd.FdKeeper.Held;
import io.efuse.csi.fsd.KeeperMessage.Type;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * What the keeper asks the serving daemon to do with a volume (mount, unmount, resize, modify, quiesce, resume),
 * each sent and registered for its answer under the keeper's lock and awaited outside it. See the methods of
 * {@link FdKeeper} of the same names.
 */
final class KeeperRequests {
    private final Object lock;
    private final Path socketPath;
    private final HeldVolumes held;
    private final PendingAnswers pending;
    private final DaemonRoster roster;

    KeeperRequests(Object lock, Path socketPath, HeldVolumes held, PendingAnswers pending, DaemonRoster roster) {
        this.lock = lock;
        this.socketPath = socketPath;
        this.held = held;
        this.pending = pending;
        this.roster = roster;
    }

    void mount(String volumeId, MountOptions options, Path stateDir, Duration timeout)
            throws IOException, InterruptedException {
        CompletableFuture<KeeperMessage> f = new CompletableFuture<>();
        synchronized (lock) {
            if (held.contains(volumeId) || pending.contains(volumeId)) {
                throw new IOException("volume " + volumeId + " is already mounted or being mounted");
            }
            if (!roster.sendToDaemon(KeeperMessage.of(Type.MOUNT, "volume", volumeId, "stateDir", stateDir.toString(),
                    "options", options.toText()), timeout)) {
                throw new IOException("no eFuse daemon connected to " + socketPath + " within " + timeout.toSeconds()
                        + " s to mount " + volumeId);
            }
            pending.put(volumeId, f);
        }
        await(f, volumeId, "mount", timeout);
    }

    void unmount(String volumeId, Duration timeout) throws IOException, InterruptedException {
        CompletableFuture<KeeperMessage> f = new CompletableFuture<>();
        Path stateDir;
        synchronized (lock) {
            Held h = held.get(volumeId);
            if (h == null) {
                return;
            }
            stateDir = h.stateDir();
            if (!roster.sendToDaemon(KeeperMessage.of(Type.UNMOUNT, "volume", volumeId), timeout)) {
                HeldVolumes.release(held.remove(volumeId));
                return;
            }
            pending.put(volumeId, f);
        }
        await(f, volumeId, "unmount", timeout);
        // The daemon discards the state of what it unmounts, but not what another process left there (a daemon that
        // did not serve the volume when asked, a file of a killed one): the volume is gone, and so is its state.
        HeldVolumes.deleteState(stateDir);
    }

    void resize(String volumeId, long maxBytes, long maxInodes, Duration timeout)
            throws IOException, InterruptedException {
        ask(volumeId, "resize", "resize a live volume", timeout, KeeperMessage.of(Type.RESIZE, "volume", volumeId,
                "maxBytes", Long.toString(maxBytes), "maxInodes", Long.toString(maxInodes)));
    }

    KeeperMessage quiesce(String volumeId, Duration drain, Duration hold, Duration timeout)
            throws IOException, InterruptedException {
        return ask(volumeId, "hold", "hold back the writes of a live volume", timeout.plus(drain),
                KeeperMessage.of(Type.QUIESCE, "volume", volumeId, "drainMillis", Long.toString(drain.toMillis()),
                        "holdMillis", Long.toString(hold.toMillis())));
    }

    boolean resume(String volumeId, long generation, Duration timeout) throws IOException, InterruptedException {
        KeeperMessage m = ask(volumeId, "resume", "hold back the writes of a live volume", timeout,
                KeeperMessage.of(Type.RESUME, "volume", volumeId, "generation", Long.toString(generation)));
        return Boolean.parseBoolean(m.get("held"));
    }

    LiveChange modify(String volumeId, Tier tier, boolean writebackCache, Duration timeout)
            throws IOException, InterruptedException {
        KeeperMessage answer = ask(volumeId, "change", "change a live volume", timeout, KeeperMessage.of(Type.MODIFY,
                "volume", volumeId, "tier", tier.label(), "writebackCache", Boolean.toString(writebackCache)));
        return new LiveChange(Tier.parse(answer.get("tier")), Boolean.parseBoolean(answer.get("tierWaits")),
                Boolean.parseBoolean(answer.get("writebackCacheWaits")));
    }

    /**
     * Sends {@code request} about a held volume to the serving daemon and waits for its answer. A daemon older than
     * the request's type is refused with a message that says what it cannot do ({@code ability}).
     */
    private KeeperMessage ask(String volumeId, String what, String ability, Duration timeout, KeeperMessage request)
            throws IOException, InterruptedException {
        CompletableFuture<KeeperMessage> f = new CompletableFuture<>();
        synchronized (lock) {
            if (!held.contains(volumeId)) {
                throw new IOException("volume " + volumeId + " is not held by this keeper");
            }
            if (!roster.awaitDaemon(timeout)) {
                throw new IOException("no eFuse daemon connected to " + socketPath + " within " + timeout.toSeconds()
                        + " s to " + what + " " + volumeId);
            }
            ConnectedDaemon active = roster.active();
            if (active.protocol < request.type().since) {
                throw new IOException("the eFuse daemon (pid " + active.pid + ") speaks fd keeper protocol "
                        + active.protocol + ", which cannot " + ability + ": upgrade efuse-csi fsd");
            }
            if (pending.contains(volumeId)) {
                throw new IOException("volume " + volumeId + " is being mounted or unmounted");
            }
            if (!roster.sendToDaemon(request, timeout)) {
                throw new IOException("no eFuse daemon connected to " + socketPath + " within " + timeout.toSeconds()
                        + " s to " + what + " " + volumeId);
            }
            pending.put(volumeId, f);
        }
        return await(f, volumeId, what, timeout);
    }

    private KeeperMessage await(CompletableFuture<KeeperMessage> f, String volumeId, String what, Duration timeout)
            throws IOException, InterruptedException {
        try {
            return f.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw new IOException(what + " " + volumeId + ": " + e.getCause().getMessage(), e.getCause());
        } catch (TimeoutException e) {
            synchronized (lock) {
                pending.remove(volumeId);
            }
            throw new IOException(what + " " + volumeId + ": no answer from the daemon within " + timeout.toSeconds() + " s");
        }
    }
}
