package io.efuse.csi.metrics;

import io.efuse.csi.bpf.BpfException;
import io.efuse.csi.bpf.FuseMonitor;
import io.efuse.csi.fuse.WorkerAdvisor;
import java.util.function.LongSupplier;

/** Advises one session's worker count from the monitor's live load of its connection ({@link WorkerScaler}). */
public final class LoadAwareWorkers implements WorkerAdvisor {

    private final FuseMonitor monitor;
    private final int connection;
    private final WorkerScaler scaler;
    private final LongSupplier clock;

    public LoadAwareWorkers(FuseMonitor monitor, int connection, WorkerScaler scaler) {
        this(monitor, connection, scaler, System::nanoTime);
    }

    LoadAwareWorkers(FuseMonitor monitor, int connection, WorkerScaler scaler, LongSupplier clock) {
        this.monitor = monitor;
        this.connection = connection;
        this.scaler = scaler;
        this.clock = clock;
    }

    @Override
    public synchronized int desiredWorkers(int current) {
        try {
            return monitor.connectionLoad(connection)
                    .map(load -> scaler.decide(load, clock.getAsLong(), current))
                    .orElse(current);
        } catch (BpfException e) {
            return current; // figures unreadable right now: keep what runs
        }
    }
}
