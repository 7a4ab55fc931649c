package io.efuse.csi.cli;

import io.efuse.csi.bpf.BpfHost;
import io.efuse.csi.csi.ByteQuantity;
import io.efuse.csi.csi.ControllerService;
import io.efuse.csi.csi.CsiServer;
import io.efuse.csi.csi.GroupControllerService;
import io.efuse.csi.csi.IdentityService;
import io.efuse.csi.csi.InlineOptions;
import io.efuse.csi.csi.NodeService;
import io.efuse.csi.fs.MountOptions;
import io.efuse.csi.fuse.UringEnableSwitch;
import io.efuse.csi.kube.KubeVolumeStore;
import io.efuse.csi.kube.NodeReconciler;
import io.efuse.csi.metrics.ListenAddress;
import io.efuse.csi.metrics.MetricsRegistry;
import io.efuse.csi.metrics.MetricsServer;
import io.efuse.csi.metrics.NodeTelemetry;
import io.efuse.csi.metrics.SessionTelemetry;
import io.efuse.csi.metrics.RpcMetrics;
import io.efuse.csi.metrics.VolumeDirectory;
import io.efuse.csi.volume.BackingRoots;
import io.efuse.csi.volume.BackingStore;
import io.efuse.csi.fsd.FdKeeper;
import io.efuse.csi.volume.EfuseMounter;
import io.efuse.csi.volume.InlineVolumes;
import io.efuse.csi.volume.KeeperMounter;
import io.efuse.csi.volume.VolumeMounter;
import io.efuse.csi.volume.LocalVolumeStore;
import io.efuse.csi.volume.VolumeStore;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What each CSI role starts and owns. Kept apart from the picocli commands so that parsing the command line (and
 * the other subcommands) loads no gRPC or Kubernetes classes.
 */
final class DriverRoles {
    private static final Logger LOG = LoggerFactory.getLogger(DriverRoles.class);
    private static final int SLOW_LOGS_PER_MINUTE = 10;

    private DriverRoles() {}

    static int standalone(DriverOptions options) {
        DriverProcess process = new DriverProcess();
        try {
            Duration grace = options.grace();
            enableUringIfAsked(options, "standalone");
            String nodeId = options.nodeId();
            BackingRoots roots = new BackingRoots(BackingStore.open(options.backingRoot,
                    options.storageOptions()), options.sharedRoot == null ? null
                    : BackingStore.openDirectories(options.sharedRoot));
            LocalVolumeStore store = process.own(new LocalVolumeStore(options.stateDir, nodeId, roots));
            NodeTelemetry telemetry = telemetry(options, process, store::ready);
            telemetry.describeEngines(engineOf(roots));
            NodeService node = new NodeService(nodeId, options.maxVolumes, store, roots,
                    mounter(options, process, telemetry), Duration.ofSeconds(5), inline(options, roots));
            store.servedBy(node);
            if (options.keeperSocket == null) {
                // It owns its targets too: they go with the sessions, in what the calls in flight left of the grace.
                process.ownBounded("the staged and published volumes", node::unmountAll);
            }
            IdentityService identity = new IdentityService(options.driverName, Main.version(), true, true,
                    List.of(store::ready));
            controllerGauges(telemetry.registry(), store);
            stagedGauge(telemetry.registry(), node);
            CsiServer server = CsiServer.start(options.endpoint, List.of(identity, new ControllerService(store, node),
                    node, new GroupControllerService(store)), callsGrace(options, grace), telemetry.rpc());
            return process.runUntilSignalled(server, grace);
        } catch (IOException | RuntimeException e) {
            process.closeAll();
            LOG.error("standalone: {}", e.getMessage());
            return ExitCodes.FAILED;
        }
    }


    /** How long calls in flight may finish at shutdown: half the grace where volumes are unmounted after them. */
    private static Duration callsGrace(DriverOptions options, Duration grace) {
        return options.keeperSocket == null ? grace.dividedBy(2) : grace;
    }

    /**
     * The node's eBPF monitor (loaded, or reused from its pins; without BPF the node serves volumes all the same and
     * says why once), the per-volume series of every eFuse volume on the node, this process's sessions and CSI
     * calls, served with /healthz at --metrics-address when given.
     */
    private static NodeTelemetry telemetry(DriverOptions options, DriverProcess process, BooleanSupplier healthy) {
        if (options.slowRequestMs < 0 || Double.isNaN(options.slowRequestMs)) {
            throw new IllegalArgumentException("--slow-request-ms must be zero or positive, not "
                    + options.slowRequestMs);
        }
        NodeTelemetry telemetry = process.own(NodeTelemetry.start(BpfHost.system(), VolumeDirectory.DEFAULT_STATE_DIR,
                options.metricsAddress == null ? null : ListenAddress.parse(options.metricsAddress), healthy));
        if (options.slowRequestMs > 0) {
            // One reader per node: the node plugin (or standalone) is the one process of the node that watches.
            telemetry.watchSlowRequests(Duration.ofNanos((long) (options.slowRequestMs * 1e6)), SLOW_LOGS_PER_MINUTE);
        }
        return telemetry;
    }

    private static java.util.function.Function<String, String> engineOf(BackingRoots roots) {
        return id -> {
            if (!io.efuse.csi.volume.VolumeIds.isVolumeId(id) && !io.efuse.csi.volume.VolumeIds.isInlineId(id)) {
                return "";
            }
            var engine = roots.local().engineOf(id);
            if (engine.isEmpty() && roots.shared() != null) {
                engine = roots.shared().engineOf(id);
            }
            return engine.map(io.efuse.csi.volume.EngineKind::label).orElse("");
        };
    }

    private static void controllerGauges(MetricsRegistry registry, VolumeStore store) {
        registry.gauge("efuse_csi_volumes", "Volumes the driver has provisioned").track(() -> store.volumes().size());
        registry.gauge("efuse_csi_snapshots", "Snapshots the driver has taken").track(() -> store.snapshots().size());
    }

    private static void stagedGauge(MetricsRegistry registry, NodeService node) {
        registry.gauge("efuse_csi_staged_volumes", "Volumes staged on this node").track(node::stagedCount);
    }

    /**
     * The node's inline volumes: their records are read (and orphans removed) whether or not new ones are allowed,
     * so that turning the switch off still lets the pods that have them delete them.
     */
    private static InlineOptions inline(DriverOptions options, BackingRoots roots) throws IOException {
        long max = 0;
        if (options.inlineVolumeMaxSize != null && !options.inlineVolumeMaxSize.isBlank()) {
            try {
                max = ByteQuantity.parse(options.inlineVolumeMaxSize);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--inline-volume-max-size: " + e.getMessage(), e);
            }
        }
        return new InlineOptions(options.allowInlineVolumes, new InlineVolumes(options.stateDir, roots.local()), max);
    }

    /** Before the first volume is staged: the kernel reads the switch when a connection starts. */
    private static void enableUringIfAsked(DriverOptions options, String role) {
        if (options.enableUring) {
            UringEnableSwitch.Outcome o = UringEnableSwitch.system().turnOn();
            if (o.on()) {
                LOG.info("{}: {}", role, o.message());
            } else {
                LOG.warn("{}: {}", role, o.message());
            }
            if (options.keeperSocket != null) {
                // io_uring queues belong to the ring of the process that registered them: no keeper can hold them.
                LOG.info("{}: with --keeper-socket the daemon serves volumes over /dev/fuse so that they survive"
                        + " restarts; io_uring queues are not used for them", role);
            }
        }
    }

    /**
     * The node's way of serving volumes. In-process sessions are unmounted when the process stops (registered by
     * the caller); with a keeper socket the sessions run in the daemon, and stopping this process only closes the
     * keeper: the daemon keeps every connection up and hands the descriptors to the next node plugin.
     */
    private static VolumeMounter mounter(DriverOptions options, DriverProcess process, NodeTelemetry telemetry)
            throws IOException {
        if (options.workersPerVolume < 0 || options.workersPerVolume > MountOptions.MAX_WORKERS) {
            throw new IllegalArgumentException("--workers-per-volume must be between 0 (one per core) and "
                    + MountOptions.MAX_WORKERS + ", not " + options.workersPerVolume);
        }
        if (options.keeperSocket == null) {
            return new EfuseMounter(options.workersPerVolume,
                    new SessionTelemetry(telemetry, SessionTelemetry.defaultMaxWorkers()));
        }
        if (options.daemonWaitSeconds < 1) {
            throw new IllegalArgumentException("--daemon-wait-seconds must be at least 1, not "
                    + options.daemonWaitSeconds);
        }
        Files.createDirectories(options.keeperSocket.toAbsolutePath().getParent());
        Files.createDirectories(options.stateRoot);
        FdKeeper keeper = process.own(FdKeeper.start(options.keeperSocket));
        return new KeeperMounter(keeper, options.stateRoot, options.workersPerVolume,
                Duration.ofSeconds(options.daemonWaitSeconds));
    }

    static int controller(DriverOptions options, long waitSeconds) {
        DriverProcess process = new DriverProcess();
        try {
            Duration grace = options.grace();
            KubernetesClient client = process.own(new KubernetesClientBuilder().build());
            KubeVolumeStore store = process.own(new KubeVolumeStore(client, options.driverName,
                    Duration.ofSeconds(waitSeconds)));
            if (options.sharedRoot != null) {
                process.own(new NodeReconciler(client, null, new BackingRoots(null,
                        BackingStore.openDirectories(options.sharedRoot)), Duration.ofMinutes(10)));
            }
            IdentityService identity = new IdentityService(options.driverName, Main.version(), true, true,
                    List.of(store::ready));
            // The controller serves no volumes: CSI figures only, no eBPF monitor.
            MetricsRegistry registry = new MetricsRegistry();
            RpcMetrics rpc = new RpcMetrics(registry);
            controllerGauges(registry, store);
            if (options.metricsAddress != null) {
                process.own(MetricsServer.start(ListenAddress.parse(options.metricsAddress), registry, store::ready));
            }
            CsiServer server = CsiServer.start(options.endpoint, List.of(identity, new ControllerService(store, store),
                    new GroupControllerService(store)), grace, rpc);
            return process.runUntilSignalled(server, grace);
        } catch (IOException | RuntimeException e) {
            process.closeAll();
            LOG.error("controller: {}", e.getMessage());
            return ExitCodes.FAILED;
        }
    }

    static int node(DriverOptions options) {
        DriverProcess process = new DriverProcess();
        try {
            Duration grace = options.grace();
            enableUringIfAsked(options, "node");
            String nodeId = options.nodeId();
            KubernetesClient client = process.own(new KubernetesClientBuilder().build());
            BackingRoots roots = new BackingRoots(BackingStore.open(options.backingRoot,
                    options.storageOptions()), options.sharedRoot == null ? null
                    : BackingStore.openDirectories(options.sharedRoot));
            KubeVolumeStore store = process.own(new KubeVolumeStore(client, options.driverName, Duration.ofSeconds(30)));
            NodeReconciler reconciler = process.own(new NodeReconciler(client, nodeId, roots, Duration.ofMinutes(10)));
            NodeTelemetry telemetry = telemetry(options, process, () -> store.ready() && reconciler.synced());
            telemetry.describeEngines(engineOf(roots));
            NodeService node = new NodeService(nodeId, options.maxVolumes, store, roots,
                    mounter(options, process, telemetry), Duration.ofSeconds(5), inline(options, roots));
            if (options.keeperSocket == null) {
                // In-process sessions end with the process; the targets are kubelet's. With a keeper socket nothing
                // is unmounted: the daemon holds every connection and hands the descriptors to the next node plugin.
                process.ownBounded("the staged volumes", node::unstageAll);
            }
            reconciler.applyParametersTo(node);
            reconciler.holdWritesThrough(node);
            IdentityService identity = new IdentityService(options.driverName, Main.version(), false, false,
                    List.of(store::ready, reconciler::synced));
            stagedGauge(telemetry.registry(), node);
            CsiServer server = CsiServer.start(options.endpoint, List.of(identity, node), callsGrace(options, grace),
                    telemetry.rpc());
            return process.runUntilSignalled(server, grace);
        } catch (IOException | RuntimeException e) {
            process.closeAll();
            LOG.error("node: {}", e.getMessage());
            return ExitCodes.FAILED;
        }
    }
}
