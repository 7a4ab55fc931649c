package io.efuse.csi.metrics;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.DoubleAdder;

/** A counter family: one monotonically increasing value per label set. */
public final class Counter implements Collector {

    private final String name;
    private final String help;
    private final List<String> labelNames;
    private final Map<List<String>, DoubleAdder> children = new ConcurrentHashMap<>();

    Counter(String name, String help, List<String> labelNames) {
        MetricWriter.requireName(name);
        if (!name.endsWith("_total")) {
            throw new IllegalArgumentException("counter names end in _total: " + name);
        }
        this.name = name;
        this.help = help;
        this.labelNames = List.copyOf(labelNames);
    }

    public void inc(String... labelValues) {
        add(1, labelValues);
    }

    public void add(double amount, String... labelValues) {
        if (amount < 0) {
            throw new IllegalArgumentException("counter " + name + " cannot decrease");
        }
        children.computeIfAbsent(LabelSets.check(name, labelNames, labelValues), k -> new DoubleAdder()).add(amount);
    }

    public double value(String... labelValues) {
        DoubleAdder a = children.get(List.of(labelValues));
        return a == null ? 0 : a.sum();
    }

    @Override
    public void collect(MetricWriter out) {
        out.family(name, "counter", help);
        children.forEach((labels, v) -> out.sample(name, labelNames, labels, v.sum()));
    }
}
