package io.efuse.csi.volume;

import io.efuse.csi.fs.Tier;
import io.efuse.csi.fsd.FdKeeper;
import io.efuse.csi.fsd.KeeperMessage;
import io.efuse.csi.fsd.MountProbe;
import io.efuse.csi.sys.MountTable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Stages volumes through the fd keeper embedded in this process: the eFuse sessions run in the daemon connected to
 * the keeper's socket ({@code efuse-csi fsd}), and the keeper holds a duplicate of every /dev/fuse descriptor of
 * each. A mount therefore outlives whichever of the two processes restarts (a crash or an upgrade of the node
 * plugin or of the daemon). When this process starts again, the serving daemon reconnects and hands the
 * descriptors back, and staging a volume the daemon still serves adopts it instead of mounting it again.
 */
public final class KeeperMounter implements VolumeMounter {
    private static final Logger LOG = LoggerFactory.getLogger(KeeperMounter.class);
    /** How long a stat of a mount point may take before the mount counts as hung (no daemon reading). */
    private static final Duration PROBE = Duration.ofSeconds(2);

    private final FdKeeper keeper;
    private final Path stateRoot;
    private final int workersPerVolume;
    private final Duration daemonWait;

    /**
     * @param stateRoot where each volume's recoverable state lives, a directory per volume (tmpfs: /run/efuse)
     * @param workersPerVolume request threads per mount, 0 for the daemon's default (one per core)
     * @param daemonWait how long a call waits for a daemon to connect (and for it to answer) before it fails
     */
    public KeeperMounter(FdKeeper keeper, Path stateRoot, int workersPerVolume, Duration daemonWait) {
        this.keeper = keeper;
        this.stateRoot = stateRoot;
        this.workersPerVolume = workersPerVolume;
        this.daemonWait = daemonWait;
    }

    @Override
    public MountedVolume mount(MountSpec spec) throws IOException, VolumeException {
        String id = spec.volumeId();
        Path mountPoint = spec.mountPoint();
        requireDaemon("mount volume " + id);
        Optional<MountedVolume> served = adopt(id, mountPoint);
        if (served.isPresent()) {
            if (!served.get().mountPoint().equals(mountPoint)) {
                throw new VolumeException(VolumeException.Reason.IN_USE, "volume " + id + " is already served at "
                        + served.get().mountPoint());
            }
            return served.get();
        }
        MountProbe.State was = MountProbe.repair(mountPoint, PROBE);
        if (was == MountProbe.State.ALIVE) {
            throw new VolumeException(VolumeException.Reason.IN_USE, mountPoint
                    + " is a live mount that the fd keeper does not hold: unmount it before staging " + id + " there");
        }
        if (was != MountProbe.State.NOT_MOUNTED) {
            LOG.warn("volume {}: {} was left on a {} FUSE connection; cleared it, mounting again", id, mountPoint,
                    was.name().toLowerCase(java.util.Locale.ROOT));
        }
        Files.createDirectories(stateRoot);
        try {
            keeper.mount(id, EfuseMounter.options(spec, workersPerVolume), stateRoot.resolve(id), daemonWait);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while the daemon mounted " + id, e);
        }
        FdKeeper.Held h = keeper.held(id).orElseThrow(() -> new IOException("the daemon mounted " + id
                + " but the fd keeper holds none of its descriptors"));
        return new KeptVolume(h.volumeId(), h.mountPoint(), h.tier());
    }

    /**
     * The volume as the keeper holds it, if a daemon serves it: right away when the keeper holds its descriptors
     * (even while no daemon is connected); after the serving daemon's hand-back when it is announced; and when
     * nothing is connected yet but something is mounted at mountPoint, after waiting (bounded) for a daemon to
     * say whether it serves the volume.
     */
    @Override
    public Optional<MountedVolume> adopt(String volumeId, Path mountPoint) throws IOException, VolumeException {
        try {
            Optional<FdKeeper.Held> h = keeper.held(volumeId);
            if (h.isEmpty() && !keeper.daemonConnected()) {
                if (mountPoint == null || !MountTable.isMountPoint(mountPoint)) {
                    return Optional.empty();
                }
                requireDaemon("tell whether the mount at " + mountPoint + " is volume " + volumeId);
            }
            if (h.isEmpty()) {
                h = keeper.awaitHeld(volumeId, daemonWait);
            }
            return h.map(held -> new KeptVolume(held.volumeId(), held.mountPoint(), held.tier()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while waiting for the fd keeper", e);
        }
    }

    private void requireDaemon(String what) throws VolumeException, IOException {
        try {
            if (!keeper.awaitDaemon(daemonWait)) {
                throw new VolumeException(VolumeException.Reason.NOT_READY, "no eFuse daemon (efuse-csi fsd --socket "
                        + keeper.socketPath() + ") connected within " + daemonWait.toSeconds() + " s to " + what
                        + ": is the efuse-csi fsd DaemonSet running on this node?");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while waiting for an eFuse daemon", e);
        }
    }

    @Override
    public String describe() {
        return "eFuse sessions in the daemon of the fd keeper at " + keeper.socketPath();
    }

    /** A volume whose session the daemon serves and whose descriptors the keeper holds. */
    private final class KeptVolume implements MountedVolume {
        private final String volumeId;
        private final Path mountPoint;
        private final String tier;

        KeptVolume(String volumeId, Path mountPoint, String tier) {
            this.volumeId = volumeId;
            this.mountPoint = mountPoint;
            this.tier = tier;
        }

        @Override
        public Path mountPoint() {
            return mountPoint;
        }

        /**
         * Held by the keeper and not aborted. A mount whose daemon is restarting does not answer for a moment;
         * that is a pause, not a death (the kernel queues its requests), so only a connection that answers
         * ENOTCONN counts as dead.
         */
        @Override
        public boolean alive() {
            if (keeper.held(volumeId).isEmpty()) {
                return false;
            }
            try {
                return MountProbe.probe(mountPoint, PROBE) != MountProbe.State.DEAD
                        && MountTable.isMountPoint(mountPoint);
            } catch (IOException e) {
                return false;
            }
        }

        @Override
        public boolean readOnly() {
            try {
                return MountTable.find(mountPoint).map(e -> e.options().equals("ro") || e.options().startsWith("ro,"))
                        .orElse(false);
            } catch (IOException e) {
                return false;
            }
        }

        @Override
        public String tier() {
            // The daemon says it again when a change of the volume's parameters changed it.
            String t = keeper.held(volumeId).map(FdKeeper.Held::tier).orElse(tier);
            return t.isEmpty() ? "unknown (the daemon did not say)" : t;
        }

        @Override
        public void resize(Limits limits) throws IOException, VolumeException {
            requireDaemon("resize volume " + volumeId);
            int protocol = keeper.daemonProtocol();
            if (protocol != 0 && protocol < KeeperMessage.Type.RESIZE.since) {
                throw new VolumeException(VolumeException.Reason.NOT_READY, "the eFuse daemon speaks fd keeper"
                        + " protocol " + protocol + ", which cannot resize a live volume: upgrade efuse-csi fsd on this"
                        + " node, then the expansion of " + volumeId + " goes through");
            }
            try {
                keeper.resize(volumeId, limits.bytes(), limits.inodes(), daemonWait);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while the daemon resized " + volumeId, e);
            }
        }

        @Override
        public WriteHold holdWrites(Duration drain, Duration hold) throws IOException, VolumeException {
            requireDaemon("hold back the writes of volume " + volumeId);
            int protocol = keeper.daemonProtocol();
            if (protocol != 0 && protocol < KeeperMessage.Type.QUIESCE.since) {
                throw new VolumeException(VolumeException.Reason.NOT_READY, "the eFuse daemon speaks fd keeper"
                        + " protocol " + protocol + ", which cannot hold back the writes of a live volume: upgrade"
                        + " efuse-csi fsd on this node to snapshot " + volumeId + " in a group");
            }
            KeeperMessage q;
            try {
                q = keeper.quiesce(volumeId, drain, hold, daemonWait);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while the daemon held back the writes of " + volumeId, e);
            } catch (IOException e) {
                throw new VolumeException(VolumeException.Reason.BUSY, e.getMessage(), e);
            }
            long generation = Long.parseLong(q.get("generation"));
            return new Hold(Integer.parseInt(q.get("passthroughWriters")), Boolean.parseBoolean(q.get("writebackCache")),
                    () -> {
                        try {
                            return keeper.resume(volumeId, generation, daemonWait);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                            throw new IOException("interrupted while the daemon resumed " + volumeId, e);
                        }
                    }, "volume " + volumeId);
        }

        @Override
        public ModifiedSettings modify(String tier, boolean writebackCache) throws IOException, VolumeException {
            requireDaemon("change volume " + volumeId);
            int protocol = keeper.daemonProtocol();
            if (protocol != 0 && protocol < KeeperMessage.Type.MODIFY.since) {
                throw new VolumeException(VolumeException.Reason.NOT_READY, "the eFuse daemon speaks fd keeper"
                        + " protocol " + protocol + ", which cannot change a live volume: upgrade efuse-csi fsd on this"
                        + " node; until then the new parameters of " + volumeId + " wait for its next staging");
            }
            try {
                return ModifiedSettings.of(keeper.modify(volumeId, Tier.parse(tier), writebackCache, daemonWait));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while the daemon changed " + volumeId, e);
            }
        }

        /** Unmounts through the daemon (or, with none in time, the keeper itself). */
        @Override
        public void close() throws IOException {
            try {
                keeper.unmount(volumeId, daemonWait);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while the daemon unmounted " + volumeId, e);
            }
        }

        @Override
        public String toString() {
            return volumeId + " at " + mountPoint + " (kept)";
        }
    }
}
