package io.efuse.csi.metrics;

import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The metric families of one process, in registration order. The daemon, the CSI services and the BPF monitor
 * feed it; {@link MetricsServer} serves it.
 */
public final class MetricsRegistry {

    private final List<Collector> collectors = new CopyOnWriteArrayList<>();
    private final Set<String> names = ConcurrentHashMap.newKeySet();

    public Counter counter(String name, String help, String... labelNames) {
        return register(name, new Counter(name, help, List.of(labelNames)));
    }

    public Gauge gauge(String name, String help, String... labelNames) {
        return register(name, new Gauge(name, help, List.of(labelNames)));
    }

    public Histogram histogram(String name, String help, double[] bounds, String... labelNames) {
        return register(name, new Histogram(name, help, bounds, List.of(labelNames)));
    }

    /** Adds a collector that writes families of its own (their names must not clash with others). */
    public void register(Collector collector) {
        collectors.add(collector);
    }

    private <T extends Collector> T register(String name, T family) {
        if (!names.add(name)) {
            throw new IllegalArgumentException("metric " + name + " is registered twice");
        }
        collectors.add(family);
        return family;
    }

    /** The whole exposition, as a scrape returns it. */
    public String scrape() {
        StringBuilder sb = new StringBuilder(4096);
        MetricWriter w = new MetricWriter(sb);
        for (Collector c : collectors) {
            c.collect(w);
        }
        return sb.toString();
    }
}
