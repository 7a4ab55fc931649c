package io.efuse.csi.cli;

import java.net.InetAddress;
import java.net.UnknownHostException;
import io.efuse.csi.csi.ByteQuantity;
import io.efuse.csi.volume.EngineKind;
import io.efuse.csi.volume.StorageOptions;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The options every CSI role shares (picocli mixin). */
final class DriverOptions {
    @Option(names = "--endpoint", defaultValue = "unix:///csi/csi.sock", paramLabel = "URL",
            description = "CSI endpoint, a unix socket: unix:///path (default: ${DEFAULT-VALUE}).")
    String endpoint;

    @Option(names = "--node-id", paramLabel = "ID",
            description = "This node's id, as Kubernetes names the node (default: the host name).")
    String nodeId;

    @Option(names = "--driver-name", defaultValue = "efuse.csi.io", paramLabel = "NAME",
            description = "CSI driver name (default: ${DEFAULT-VALUE}).")
    String driverName;

    @Option(names = "--state-dir", defaultValue = "/var/lib/efuse/state", paramLabel = "DIR",
            description = "Where the embedded store keeps its records (default: ${DEFAULT-VALUE}).")
    Path stateDir;

    @Option(names = "--backing-root", defaultValue = "/var/lib/efuse", paramLabel = "DIR",
            description = "Node-local data root: volumes live in DIR/volumes/ID (default: ${DEFAULT-VALUE}).")
    Path backingRoot;

    @Option(names = "--engine", defaultValue = "auto", paramLabel = "ENGINE",
            description = "How the node keeps new volumes under the backing root, unless a StorageClass asks"
                    + " (parameter engine): auto (the best the root offers: btrfs, project-quota, image, daemon),"
                    + " btrfs (a subvolume each, btrfs quotas), project-quota, image (an ext4 or XFS image file each,"
                    + " on a loop device) or daemon (the FUSE daemon enforces sizes; no passthrough for writes)"
                    + " (default: ${DEFAULT-VALUE}).")
    String engine;

    @Option(names = "--image-fs", defaultValue = "auto", paramLabel = "FS",
            description = "The filesystem inside the image engine's images: ext4, xfs, or auto: ext4 where a mounted"
                    + " ext4 can grow (CAP_SYS_RESOURCE), else XFS for volumes of 300 MiB and more"
                    + " (default: ${DEFAULT-VALUE}).")
    String imageFs;

    @Option(names = "--btrfs-pool-image", paramLabel = "FILE",
            description = "Where the node has no btrfs filesystem: make one on this image file (through a loop"
                    + " device, with --btrfs-pool-size) and mount it at the backing root, for the btrfs engine.")
    Path btrfsPoolImage;

    @Option(names = "--btrfs-pool-size", paramLabel = "SIZE",
            description = "With --btrfs-pool-image: the pool's size, e.g. 100Gi; a bigger size grows an existing pool.")
    String btrfsPoolSize;

    @Option(names = "--shared-root", paramLabel = "DIR",
            description = "A directory every node has mounted (NFS, CephFS…) for the shared backend.")
    Path sharedRoot;

    @Option(names = "--metrics-address", paramLabel = "HOST:PORT",
            description = "Serve /metrics and /healthz over HTTP here (e.g. 127.0.0.1:9808); off when unset.")
    String metricsAddress;

    @Option(names = "--slow-request-ms", defaultValue = "0", paramLabel = "MS",
            description = "Node plugin and standalone: count (efuse_fuse_slow_requests_total) and log, at most 10 lines"
                    + " a minute, the FUSE requests of this node's volumes that take at least MS milliseconds, as the"
                    + " eBPF monitor sees them; 0: off (default: ${DEFAULT-VALUE}).")
    double slowRequestMs;

    @Option(names = "--max-volumes", defaultValue = "0", paramLabel = "N",
            description = "Most volumes staged on this node at once, 0 for no limit (default: ${DEFAULT-VALUE}).")
    long maxVolumes;

    @Option(names = "--allow-inline-volumes",
            description = "Node plugin and standalone: make CSI ephemeral inline volumes, which pods declare in their"
                    + " own spec (volumeAttributes: size, tier, writebackCache, inodes) and which are deleted with the"
                    + " pod. Off: such a NodePublishVolume is refused; inline volumes made before are still deleted.")
    boolean allowInlineVolumes;

    @Option(names = "--inline-volume-max-size", paramLabel = "SIZE",
            description = "With --allow-inline-volumes: the largest size one inline volume may ask for, e.g. 10Gi;"
                    + " unset: no bound but the node's disk.")
    String inlineVolumeMaxSize;

    @Option(names = "--workers-per-volume", defaultValue = "0", paramLabel = "N",
            description = "FUSE request threads per staged volume, 0 for one per core (default: ${DEFAULT-VALUE}).")
    int workersPerVolume;

    @Option(names = "--enable-uring",
            description = "Turn the fuse module's enable_uring switch on at start, so that volumes are served over"
                    + " per-CPU FUSE-over-io_uring queues (Linux 6.14+); where it cannot be turned on, volumes use"
                    + " /dev/fuse and a warning says why.")
    boolean enableUring;

    @Option(names = "--keeper-socket", paramLabel = "PATH",
            description = "Hand the volumes' FUSE sessions to the eFuse daemon (efuse-csi fsd --socket PATH) and keep"
                    + " their /dev/fuse descriptors here, so that mounts survive restarts and upgrades of this plugin"
                    + " and of the daemon. Unset: the sessions run in this process and end with it.")
    Path keeperSocket;

    @Option(names = "--state-root", defaultValue = "/run/efuse", paramLabel = "DIR",
            description = "With --keeper-socket: where volumes keep their recoverable state, a directory each"
                    + " (default: ${DEFAULT-VALUE}; tmpfs, shared with the daemon).")
    Path stateRoot;

    @Option(names = "--daemon-wait-seconds", defaultValue = "30", paramLabel = "S",
            description = "With --keeper-socket: how long staging waits for the daemon to connect or answer before it"
                    + " fails with UNAVAILABLE (default: ${DEFAULT-VALUE}).")
    long daemonWaitSeconds;

    @Option(names = "--grace-seconds", defaultValue = "10", paramLabel = "S",
            description = "How long shutdown may take in all: calls in flight may finish, then (standalone, and node"
                    + " without --keeper-socket) every volume is unmounted, all at once, and a FUSE connection still in"
                    + " use when the time runs out is aborted; calls get half of it where volumes are unmounted. Keep"
                    + " it below the pod's terminationGracePeriodSeconds (default: ${DEFAULT-VALUE}).")
    long graceSeconds;

    /** --grace-seconds, checked. */
    java.time.Duration grace() {
        if (graceSeconds < 0) {
            throw new IllegalArgumentException("--grace-seconds must be zero or positive, not " + graceSeconds);
        }
        return java.time.Duration.ofSeconds(graceSeconds);
    }

    String nodeId() {
        if (nodeId != null && !nodeId.isBlank()) {
            return nodeId;
        }
        String env = System.getenv("NODE_NAME");
        if (env != null && !env.isBlank()) {
            return env;
        }
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            throw new IllegalStateException("no --node-id given and the host name is unknown", e);
        }
    }

    /** How the backing root keeps volumes, from --engine, --image-fs and the btrfs pool options. */
    StorageOptions storageOptions() {
        EngineKind kind = engine == null || engine.equalsIgnoreCase("auto") ? null : EngineKind.parse(engine);
        if ((btrfsPoolImage == null) != (btrfsPoolSize == null)) {
            throw new IllegalArgumentException("--btrfs-pool-image and --btrfs-pool-size go together");
        }
        long poolBytes = btrfsPoolSize == null ? 0 : ByteQuantity.parse(btrfsPoolSize);
        return new StorageOptions(kind, imageFs, btrfsPoolImage, poolBytes);
    }
}
