package io.efuse.csi.cli;

import io.efuse.csi.csi.ControllerService;
import io.efuse.csi.csi.CsiServer;
import io.efuse.csi.csi.IdentityService;
import io.efuse.csi.kube.KubeVolumeStore;
import io.efuse.csi.kube.NodeReconciler;
import io.efuse.csi.volume.BackingRoots;
import io.efuse.csi.volume.BackingStore;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code efuse-csi controller}: Identity and Controller, with volume state in EfuseVolume resources. */
@Command(name = "controller", mixinStandardHelpOptions = true,
        description = "Serve the CSI Identity and Controller services for a cluster: volumes are EfuseVolume"
                + " resources that each node's plugin reconciles. With --shared-root this process also makes the"
                + " shared backend's volumes.")
final class ControllerCommand implements Callable<Integer> {
    @Mixin
    DriverOptions options;

    @Option(names = "--wait-seconds", defaultValue = "60", paramLabel = "S",
            description = "How long a call waits for a node to act before it returns UNAVAILABLE and is retried"
                    + " (default: ${DEFAULT-VALUE}).")
    long waitSeconds;

    @Override
    public Integer call() {
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
}
