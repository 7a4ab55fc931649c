package io.efuse.csi.cli;

import io.efuse.csi.bpf.BpfHost;
import io.efuse.csi.fsd.FsDaemon;
import io.efuse.csi.metrics.ListenAddress;
import io.efuse.csi.metrics.NodeTelemetry;
import io.efuse.csi.metrics.SessionTelemetry;
import io.efuse.csi.metrics.VolumeDirectory;
import io.efuse.csi.sys.LibC;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code efuse-csi fsd}: the FUSE daemon host, serving the volumes an fd keeper gives it. */
@Command(name = "fsd", mixinStandardHelpOptions = true,
        description = "Serve eFuse volumes for the fd keeper listening on --socket. SIGTERM hands every volume"
                + " over to the next daemon without unmounting; a crash loses nothing either (the keeper holds the"
                + " connections and the next daemon resumes from the state under the keeper's state root).")
final class FsdCommand implements Callable<Integer> {
    @Option(names = "--socket", required = true, paramLabel = "PATH", description = "The fd keeper's unix socket.")
    Path socket;

    @Option(names = "--metrics-address", paramLabel = "HOST:PORT",
            description = "Serve Prometheus metrics of this daemon's sessions here (e.g. :9807), and /healthz, which"
                    + " is ok while the daemon is connected to the fd keeper; default: none.")
    String metricsAddress;

    @Option(names = "--max-workers", paramLabel = "N",
            description = "Let the eBPF monitor's load figures grow each volume's workers up to N (default: 4 per"
                    + " core).")
    Integer maxWorkers;

    // Its default is a constant, so that parsing does not initialise FsDaemon, whose logger must wait for --log-level.
    @Option(names = "--handover-wait-seconds", paramLabel = "S",
            description = "On SIGTERM, how long to wait for an fd keeper when none holds this daemon's volumes (the"
                    + " node plugin restarting at the same time), before exiting would end their connections"
                    + " (default: 45, within the chart's 60 s grace period).")
    int handoverWaitSeconds = FsDaemon.DEFAULT_KEEPER_WAIT_SECONDS;

    @Override
    public Integer call() {
        if (LibC.geteuid() != 0) {
            System.err.println("efuse-csi fsd: must run as root (FUSE, open_by_handle_at)");
            return ExitCodes.NOT_PERMITTED;
        }
        InetSocketAddress address;
        try {
            address = metricsAddress == null ? null : ListenAddress.parse(metricsAddress);
        } catch (IllegalArgumentException e) {
            System.err.println("efuse-csi fsd: --metrics-address: " + e.getMessage());
            return ExitCodes.USAGE;
        }
        if (handoverWaitSeconds < 0) {
            System.err.println("efuse-csi fsd: --handover-wait-seconds must not be negative");
            return ExitCodes.USAGE;
        }
        if (maxWorkers != null && maxWorkers < 1) {
            System.err.println("efuse-csi fsd: --max-workers must be at least 1");
            return ExitCodes.USAGE;
        }
        // The eBPF monitor (loaded, or reused from its pins) sizes the sessions' workers; the volumes are published
        // under /run/efuse/volumes for the node plugin's metrics and efuse-csi status. Without BPF the volumes are
        // served all the same and the reason is logged once.
        // /healthz is the readiness of a surge update: the new daemon is ready once the keeper knows it.
        AtomicReference<FsDaemon> started = new AtomicReference<>();
        NodeTelemetry telemetry;
        try {
            telemetry = NodeTelemetry.start(BpfHost.system(), VolumeDirectory.DEFAULT_STATE_DIR, address,
                    () -> started.get() != null && started.get().connected());
        } catch (RuntimeException e) {
            System.err.println("efuse-csi fsd: " + e.getMessage());
            return ExitCodes.FAILED;
        }
        FsDaemon daemon = new FsDaemon(socket, new SessionTelemetry(telemetry,
                maxWorkers != null ? maxWorkers : SessionTelemetry.defaultMaxWorkers()));
        started.set(daemon);
        Thread main = Thread.currentThread();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            daemon.handOver(Duration.ofSeconds(handoverWaitSeconds));
            main.interrupt();
        }, "efuse-handover"));
        try {
            daemon.run();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return ExitCodes.OK;
    }
}
