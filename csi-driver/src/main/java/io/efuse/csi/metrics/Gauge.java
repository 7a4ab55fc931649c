package io.efuse.csi.metrics;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.DoubleSupplier;

/**
 * A gauge family: per label set either a value set by its owner or a supplier read at scrape time (a supplier
 * that throws drops its sample from that scrape).
 */
public final class Gauge implements Collector {

    private final String name;
    private final String help;
    private final List<String> labelNames;
    private final Map<List<String>, DoubleSupplier> children = new ConcurrentHashMap<>();

    Gauge(String name, String help, List<String> labelNames) {
        MetricWriter.requireName(name);
        this.name = name;
        this.help = help;
        this.labelNames = List.copyOf(labelNames);
    }

    public void set(double value, String... labelValues) {
        children.put(LabelSets.check(name, labelNames, labelValues), () -> value);
    }

    /** Reads the value from source at every scrape until {@link #remove} is called with the same labels. */
    public void track(DoubleSupplier source, String... labelValues) {
        children.put(LabelSets.check(name, labelNames, labelValues), source);
    }

    public void remove(String... labelValues) {
        children.remove(List.of(labelValues));
    }

    @Override
    public void collect(MetricWriter out) {
        out.family(name, "gauge", help);
        children.forEach((labels, source) -> {
            double v;
            try {
                v = source.getAsDouble();
            } catch (RuntimeException e) {
                return;
            }
            out.sample(name, labelNames, labels, v);
        });
    }
}
