package io.efuse.csi.metrics;

import io.efuse.csi.bpf.EfuseCacheCounters;
import io.efuse.csi.fs.EfuseMount;
import io.efuse.csi.fs.MountObserver;
import io.efuse.csi.fuse.FuseOpcode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reports the sessions of a process to the node's telemetry: the volume is published for per-volume series and
 * {@code efuse-csi status}, the daemon's own figures are exported, and the session's workers follow the monitor's
 * load figures between the workers it was mounted with and maxWorkers.
 */
public final class SessionTelemetry implements MountObserver {
    private static final Logger LOG = LoggerFactory.getLogger(SessionTelemetry.class);

    private final NodeTelemetry telemetry;
    private final int maxWorkers;

    /** @param maxWorkers the most workers a session may grow to; at or below its own count, the count stays fixed */
    public SessionTelemetry(NodeTelemetry telemetry, int maxWorkers) {
        this.telemetry = telemetry;
        this.maxWorkers = maxWorkers;
    }

    /** The default ceiling of load-aware workers: four per core. */
    public static int defaultMaxWorkers() {
        return 4 * Runtime.getRuntime().availableProcessors();
    }

    @Override
    public Report served(String volumeId, EfuseMount mount) {
        AutoCloseable published;
        try {
            published = report(volumeId, mount);
        } catch (RuntimeException e) {
            LOG.warn(volumeId + ": served without its figures: " + e.getMessage());
            return () -> { };
        }
        return () -> {
            try {
                published.close();
            } catch (Exception e) {
                LOG.warn(volumeId + ": withdrawing its figures: " + e.getMessage());
            }
        };
    }

    private AutoCloseable report(String volumeId, EfuseMount mount) {
        int connection = (int) mount.connectionId();
        telemetry.connectionMounted(connection);
        int min = mount.stats().workers();
        if (maxWorkers > min) {
            mount.scaleWorkers(telemetry.workerAdvisor(connection, min, maxWorkers), min, maxWorkers);
        }
        return telemetry.volumeMounted(connection, volumeId, mount.mountPoint().toString(), mount.tier().label(),
                new SessionFigures() {
                    @Override
                    public int workers() {
                        return mount.stats().workers();
                    }

                    @Override
                    public long passthroughOpenFiles() {
                        return mount.stats().passthroughOpenFiles();
                    }

                    @Override
                    public long daemonRequests(String opcode) {
                        int op = FuseOpcode.byName(opcode);
                        return op < 0 ? 0 : mount.requests(op);
                    }

                    @Override
                    public EfuseCacheCounters kernelCacheAnswers() {
                        return mount.kernelCacheCounters();
                    }
                });
    }
}
