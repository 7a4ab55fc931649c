package io.efuse.csi.cli;

import io.efuse.csi.csi.ControllerService;
import io.efuse.csi.csi.CsiServer;
import io.efuse.csi.csi.IdentityService;
import io.efuse.csi.csi.NodeService;
import io.efuse.csi.fuse.UringEnableSwitch;
import io.efuse.csi.kube.KubeVolumeStore;
import io.efuse.csi.kube.NodeReconciler;
import io.efuse.csi.volume.BackingRoots;
import io.efuse.csi.volume.BackingStore;
import io.efuse.csi.fsd.FdKeeper;
import io.efuse.csi.volume.EfuseMounter;
import io.efuse.csi.volume.KeeperMounter;
import io.efuse.csi.volume.VolumeMounter;
import io.efuse.csi.volume.LocalVolumeStore;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;

/**
 * What each CSI role starts and owns. Kept apart from the picocli commands so that parsing the command line (and
 * the other subcommands) loads no gRPC or Kubernetes classes.
 */
final class DriverRoles {
    private DriverRoles() {}

    static int standalone(DriverOptions options) {
        DriverProcess process = new DriverProcess();
        try {
            enableUringIfAsked(options, "standalone");
            String nodeId = options.nodeId();
            BackingRoots roots = new BackingRoots(BackingStore.open(options.backingRoot),
                    options.sharedRoot == null ? null : BackingStore.open(options.sharedRoot));
            LocalVolumeStore store = process.own(new LocalVolumeStore(options.stateDir, nodeId, roots));
            NodeService node = new NodeService(nodeId, options.maxVolumes, store, roots, mounter(options, process),
                    Duration.ofSeconds(5));
            if (options.keeperSocket == null) {
                process.own(node::unstageAll);
            }
            IdentityService identity = new IdentityService(options.driverName, Main.version(), true,
                    List.of(store::ready));
            if (options.metricsAddress != null) {
                process.own(MetricsEndpoint.start(options.metricsAddress, store::ready, () ->
                        "efuse_csi_volumes " + store.volumes().size() + "\n"
                                + "efuse_csi_snapshots " + store.snapshots().size() + "\n"
                                + "efuse_csi_staged_volumes " + node.stagedCount() + "\n"));
            }
            CsiServer server = CsiServer.start(options.endpoint, List.of(identity, new ControllerService(store), node),
                    Duration.ofSeconds(options.graceSeconds));
            return process.runUntilSignalled(server);
        } catch (IOException | RuntimeException e) {
            process.closeAll();
            System.err.println("efuse-csi standalone: " + e.getMessage());
            return ExitCodes.FAILED;
        }
    }

    /** Before the first volume is staged: the kernel reads the switch when a connection starts. */
    private static void enableUringIfAsked(DriverOptions options, String role) {
        if (options.enableUring) {
            UringEnableSwitch.Outcome o = UringEnableSwitch.system().turnOn();
            System.err.println("efuse-csi " + role + ": " + (o.on() ? "" : "warning: ") + o.message());
            if (options.keeperSocket != null) {
                // io_uring queues belong to the ring of the process that registered them: no keeper can hold them.
                System.err.println("efuse-csi " + role + ": note: with --keeper-socket the daemon serves volumes over"
                        + " /dev/fuse so that they survive restarts; io_uring queues are not used for them");
            }
        }
    }

    /**
     * The node's way of serving volumes. In-process sessions are unmounted when the process stops (registered by
     * the caller); with a keeper socket the sessions run in the daemon, and stopping this process only closes the
     * keeper: the daemon keeps every connection up and hands the descriptors to the next node plugin.
     */
    private static VolumeMounter mounter(DriverOptions options, DriverProcess process) throws IOException {
        if (options.keeperSocket == null) {
            return new EfuseMounter(options.workersPerVolume);
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
            KubernetesClient client = process.own(new KubernetesClientBuilder().build());
            KubeVolumeStore store = process.own(new KubeVolumeStore(client, options.driverName,
                    Duration.ofSeconds(waitSeconds)));
            if (options.sharedRoot != null) {
                process.own(new NodeReconciler(client, null, new BackingRoots(null,
                        BackingStore.open(options.sharedRoot)), Duration.ofMinutes(10)));
            }
            IdentityService identity = new IdentityService(options.driverName, Main.version(), true,
                    List.of(store::ready));
            if (options.metricsAddress != null) {
                process.own(MetricsEndpoint.start(options.metricsAddress, store::ready, () ->
                        "efuse_csi_volumes " + store.volumes().size() + "\n"
                                + "efuse_csi_snapshots " + store.snapshots().size() + "\n"));
            }
            CsiServer server = CsiServer.start(options.endpoint, List.of(identity, new ControllerService(store)),
                    Duration.ofSeconds(options.graceSeconds));
            return process.runUntilSignalled(server);
        } catch (IOException | RuntimeException e) {
            process.closeAll();
            System.err.println("efuse-csi controller: " + e.getMessage());
            return ExitCodes.FAILED;
        }
    }

    static int node(DriverOptions options) {
        DriverProcess process = new DriverProcess();
        try {
            enableUringIfAsked(options, "node");
            String nodeId = options.nodeId();
            KubernetesClient client = process.own(new KubernetesClientBuilder().build());
            BackingRoots roots = new BackingRoots(BackingStore.open(options.backingRoot),
                    options.sharedRoot == null ? null : BackingStore.open(options.sharedRoot));
            KubeVolumeStore store = process.own(new KubeVolumeStore(client, options.driverName, Duration.ofSeconds(30)));
            NodeReconciler reconciler = process.own(new NodeReconciler(client, nodeId, roots, Duration.ofMinutes(10)));
            NodeService node = new NodeService(nodeId, options.maxVolumes, store, roots, mounter(options, process),
                    Duration.ofSeconds(5));
            if (options.keeperSocket == null) {
                process.own(node::unstageAll);
            }
            IdentityService identity = new IdentityService(options.driverName, Main.version(), false,
                    List.of(store::ready, reconciler::synced));
            if (options.metricsAddress != null) {
                process.own(MetricsEndpoint.start(options.metricsAddress, () -> store.ready() && reconciler.synced(),
                        () -> "efuse_csi_staged_volumes " + node.stagedCount() + "\n"));
            }
            CsiServer server = CsiServer.start(options.endpoint, List.of(identity, node),
                    Duration.ofSeconds(options.graceSeconds));
            return process.runUntilSignalled(server);
        } catch (IOException | RuntimeException e) {
            process.closeAll();
            System.err.println("efuse-csi node: " + e.getMessage());
            return ExitCodes.FAILED;
        }
    }
}
