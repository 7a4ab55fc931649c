package io.efuse.csi.cli;

import io.efuse.csi.csi.ControllerService;
import io.efuse.csi.csi.CsiServer;
import io.efuse.csi.csi.IdentityService;
import io.efuse.csi.csi.NodeService;
import io.efuse.csi.sys.LibC;
import io.efuse.csi.volume.BackingRoots;
import io.efuse.csi.volume.BackingStore;
import io.efuse.csi.volume.EfuseMounter;
import io.efuse.csi.volume.LocalVolumeStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code efuse-csi standalone}: Identity, Controller and Node on one endpoint, with the embedded local store. */
@Command(name = "standalone", mixinStandardHelpOptions = true,
        description = "Serve the CSI Identity, Controller and Node services on one endpoint for a single machine"
                + " with no cluster: volume records live in --state-dir, data under --backing-root.")
final class StandaloneCommand implements Callable<Integer> {
    @Mixin
    DriverOptions options;

    @Override
    public Integer call() throws IOException {
        if (LibC.geteuid() != 0) {
            System.err.println("efuse-csi standalone: must run as root (it mounts volumes)");
            return ExitCodes.NOT_PERMITTED;
        }
        if (!Files.exists(Path.of("/dev/fuse"))) {
            System.err.println("efuse-csi standalone: /dev/fuse is missing: this kernel or container has no FUSE");
            return ExitCodes.NO_FUSE;
        }
        DriverProcess process = new DriverProcess();
        try {
            String nodeId = options.nodeId();
            BackingRoots roots = new BackingRoots(BackingStore.open(options.backingRoot),
                    options.sharedRoot == null ? null : BackingStore.open(options.sharedRoot));
            LocalVolumeStore store = process.own(new LocalVolumeStore(options.stateDir, nodeId, roots));
            NodeService node = new NodeService(nodeId, options.maxVolumes, store, roots,
                    new EfuseMounter(options.workersPerVolume), Duration.ofSeconds(5));
            process.own(node::unstageAll);
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
}
