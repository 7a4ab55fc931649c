package io.efuse.csi.cli;

import io.efuse.csi.csi.CsiServer;
import io.efuse.csi.csi.IdentityService;
import io.efuse.csi.csi.NodeService;
import io.efuse.csi.kube.KubeVolumeStore;
import io.efuse.csi.kube.NodeReconciler;
import io.efuse.csi.sys.LibC;
import io.efuse.csi.volume.BackingRoots;
import io.efuse.csi.volume.BackingStore;
import io.efuse.csi.volume.EfuseMounter;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/**
 * {@code efuse-csi node}: Identity and Node for kubelet, plus the reconciler that makes this node's volumes and
 * snapshots from their resources. eFuse sessions live in this process.
 */
@Command(name = "node", mixinStandardHelpOptions = true,
        description = "Serve the CSI Identity and Node services for kubelet and reconcile this node's EfuseVolume"
                + " and EfuseSnapshot resources (backing directories, limits, copies, reclaim).")
final class NodeCommand implements Callable<Integer> {
    @Mixin
    DriverOptions options;

    @Override
    public Integer call() {
        if (LibC.geteuid() != 0) {
            System.err.println("efuse-csi node: must run as root (it mounts volumes)");
            return ExitCodes.NOT_PERMITTED;
        }
        if (!Files.exists(Path.of("/dev/fuse"))) {
            System.err.println("efuse-csi node: /dev/fuse is missing: this kernel or container has no FUSE");
            return ExitCodes.NO_FUSE;
        }
        DriverProcess process = new DriverProcess();
        try {
            String nodeId = options.nodeId();
            KubernetesClient client = process.own(new KubernetesClientBuilder().build());
            BackingRoots roots = new BackingRoots(BackingStore.open(options.backingRoot),
                    options.sharedRoot == null ? null : BackingStore.open(options.sharedRoot));
            KubeVolumeStore store = process.own(new KubeVolumeStore(client, options.driverName, Duration.ofSeconds(30)));
            NodeReconciler reconciler = process.own(new NodeReconciler(client, nodeId, roots, Duration.ofMinutes(10)));
            NodeService node = new NodeService(nodeId, options.maxVolumes, store, roots,
                    new EfuseMounter(options.workersPerVolume), Duration.ofSeconds(5));
            process.own(node::unstageAll);
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
