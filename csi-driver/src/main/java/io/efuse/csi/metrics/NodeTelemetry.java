package io.efuse.csi.metrics;

import io.efuse.csi.bpf.BpfHost;
import io.efuse.csi.bpf.NodeMonitor;
import io.efuse.csi.fuse.WorkerAdvisor;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Everything a process serving eFuse volumes needs for observability, in one owner: the eBPF monitor (attached or
 * reused, or off with its reason), the metrics registry with the daemon's and the CSI figures, the directory of
 * mounted volumes, and optionally the Prometheus endpoint.
 */
public final class NodeTelemetry implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(NodeTelemetry.class);

    private final NodeMonitor monitor;
    private final MetricsRegistry registry;
    private final VolumeDirectory volumes;
    private final DaemonMetrics daemon;
    private final RpcMetrics rpc;
    private final MetricsServer server;
    private final FuseMonitorCollector collector;
    private SlowRequestLog slowRequests;

    private NodeTelemetry(NodeMonitor monitor, MetricsRegistry registry, VolumeDirectory volumes,
            MetricsServer server, FuseMonitorCollector collector) {
        this.collector = collector;
        this.monitor = monitor;
        this.registry = registry;
        this.volumes = volumes;
        this.daemon = new DaemonMetrics(registry);
        this.rpc = new RpcMetrics(registry);
        this.server = server;
    }

    /**
     * @param host where BPF lives ({@link BpfHost#system()})
     * @param stateDir where mounted volumes are published for other processes (null: not published)
     * @param metricsAddress where to serve /metrics (null: no endpoint)
     */
    public static NodeTelemetry start(BpfHost host, Path stateDir, InetSocketAddress metricsAddress) {
        return start(host, stateDir, metricsAddress, () -> true);
    }

    /** As {@link #start(BpfHost, Path, InetSocketAddress)}, with the endpoint's /healthz answering as healthy says. */
    public static NodeTelemetry start(BpfHost host, Path stateDir, InetSocketAddress metricsAddress,
            BooleanSupplier healthy) {
        NodeMonitor monitor = NodeMonitor.start(host);
        MetricsRegistry registry = new MetricsRegistry();
        VolumeDirectory volumes = stateDir == null ? new VolumeDirectory() : new VolumeDirectory(stateDir);
        FuseMonitorCollector collector = new FuseMonitorCollector(monitor, volumes);
        registry.register(collector);
        MetricsServer server = null;
        if (metricsAddress != null) {
            try {
                server = MetricsServer.start(metricsAddress, registry, healthy);
            } catch (RuntimeException e) {
                monitor.close();
                throw e;
            }
        }
        return new NodeTelemetry(monitor, registry, volumes, server, collector);
    }

    /** Says which storage engine keeps each volume (its id in, the engine's name or "" out), for the metrics. */
    public void describeEngines(java.util.function.Function<String, String> engineOfVolume) {
        collector.describeEngines(engineOfVolume);
    }

    /**
     * Reports a mounted volume until the returned handle is closed (at unmount).
     *
     * @param connection the mount's FUSE connection id (EfuseMount.connectionId())
     */
    public AutoCloseable volumeMounted(int connection, String volumeId, String mountPoint, String tier,
            SessionFigures figures) {
        volumes.register(new VolumeDirectory.Volume(connection, volumeId, mountPoint, tier));
        AutoCloseable session = daemon.track(volumeId, figures);
        return () -> {
            session.close();
            volumes.forget(connection);
        };
    }

    /** The worker advisor for a session: load-aware with the monitor, {@link WorkerAdvisor#FIXED} without. */
    public WorkerAdvisor workerAdvisor(int connection, int minWorkers, int maxWorkers) {
        return monitor.monitor().<WorkerAdvisor>map(m -> new LoadAwareWorkers(m, connection,
                new WorkerScaler(minWorkers, maxWorkers))).orElse(WorkerAdvisor.FIXED);
    }

    /** A connection was just mounted: figures the monitor kept for an earlier one with the same id are dropped. */
    public void connectionMounted(int connection) {
        monitor.monitor().ifPresent(m -> {
            try {
                m.forgetConnection(connection);
            } catch (RuntimeException e) {
                LOG.warn("clearing the monitor's figures of connection " + connection
                        + ": " + e.getMessage());
            }
        });
    }

    /**
     * Counts and logs requests at least this slow (node-wide threshold; the ring buffer has one reader per node, so
     * call this in one process of the node, e.g. the node plugin). No-op without the monitor.
     */
    public synchronized void watchSlowRequests(Duration threshold, int logsPerMinute) {
        if (slowRequests == null && monitor.monitor().isPresent()) {
            slowRequests = new SlowRequestLog(monitor.monitor().get(), threshold, volumes, registry, logsPerMinute);
        }
    }

    public RpcMetrics rpc() {
        return rpc;
    }

    public MetricsRegistry registry() {
        return registry;
    }

    public NodeMonitor monitor() {
        return monitor;
    }

    public Optional<Integer> metricsPort() {
        return Optional.ofNullable(server).map(MetricsServer::port);
    }

    @Override
    public synchronized void close() {
        if (slowRequests != null) {
            slowRequests.close();
        }
        if (server != null) {
            server.close();
        }
        monitor.close();
    }
}
