package io.efuse.csi.bpf;

import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a process serving eFuse volumes holds of the FUSE monitor: the running monitor, or the one reason it is
 * off on this node (logged once, when the process starts it). A monitor that is off never stops a volume from
 * being served.
 */
public final class NodeMonitor implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(NodeMonitor.class);

    private final FuseMonitor monitor;
    private final String unavailableReason;

    private NodeMonitor(FuseMonitor monitor, String unavailableReason) {
        this.monitor = monitor;
        this.unavailableReason = unavailableReason;
    }

    /** Attaches (or reuses) the monitor on this node; never throws. */
    public static NodeMonitor start(BpfHost host) {
        try {
            return new NodeMonitor(FuseMonitor.attach(host), null);
        } catch (BpfUnavailableException e) {
            LOG.warn("eBPF FUSE monitor off: {}. Volumes are served without per-request metrics.", e.getMessage());
            return new NodeMonitor(null, e.getMessage());
        } catch (RuntimeException | LinkageError e) {
            String reason = "unexpected failure: " + e;
            LOG.warn("eBPF FUSE monitor off: {}. Volumes are served without per-request metrics.", reason, e);
            return new NodeMonitor(null, reason);
        }
    }

    public Optional<FuseMonitor> monitor() {
        return Optional.ofNullable(monitor);
    }

    /** Why the monitor is off; empty when it runs. */
    public Optional<String> unavailableReason() {
        return Optional.ofNullable(unavailableReason);
    }

    @Override
    public void close() {
        if (monitor != null) {
            monitor.close();
        }
    }
}
