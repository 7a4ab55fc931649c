package io.efuse.csi.metrics;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.DoubleAdder;
import java.util.concurrent.atomic.LongAdder;

/** A histogram family with fixed upper bounds (seconds, for durations). */
public final class Histogram implements Collector {

    /** Bounds for RPC and request durations: 1 ms to 60 s. */
    public static final double[] DURATION_SECONDS = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
        5, 10, 30, 60};

    private final String name;
    private final String help;
    private final List<String> labelNames;
    private final double[] bounds;
    private final Map<List<String>, Child> children = new ConcurrentHashMap<>();

    private static final class Child {
        final LongAdder[] buckets;
        final DoubleAdder sum = new DoubleAdder();
        final LongAdder count = new LongAdder();

        Child(int n) {
            buckets = new LongAdder[n];
            Arrays.setAll(buckets, i -> new LongAdder());
        }
    }

    Histogram(String name, String help, double[] bounds, List<String> labelNames) {
        MetricWriter.requireName(name);
        for (int i = 1; i < bounds.length; i++) {
            if (bounds[i] <= bounds[i - 1]) {
                throw new IllegalArgumentException(name + ": bucket bounds must increase");
            }
        }
        if (labelNames.contains("le")) {
            throw new IllegalArgumentException(name + ": 'le' is reserved");
        }
        this.name = name;
        this.help = help;
        this.bounds = bounds.clone();
        this.labelNames = List.copyOf(labelNames);
    }

    public void observe(double value, String... labelValues) {
        Child c = children.computeIfAbsent(LabelSets.check(name, labelNames, labelValues), k -> new Child(bounds.length));
        int i = Arrays.binarySearch(bounds, value);
        int bucket = i >= 0 ? i : -i - 1; // first bound >= value
        if (bucket < bounds.length) {
            c.buckets[bucket].increment();
        }
        c.sum.add(value);
        c.count.increment();
    }

    public long count(String... labelValues) {
        Child c = children.get(List.of(labelValues));
        return c == null ? 0 : c.count.sum();
    }

    @Override
    public void collect(MetricWriter out) {
        out.family(name, "histogram", help);
        List<String> names = new ArrayList<>(labelNames);
        names.add("le");
        children.forEach((labels, c) -> {
            long cumulative = 0;
            List<String> values = new ArrayList<>(labels);
            values.add("");
            for (int i = 0; i < bounds.length; i++) {
                cumulative += c.buckets[i].sum();
                values.set(values.size() - 1, MetricWriter.format(bounds[i]));
                out.sample(name + "_bucket", names, values, cumulative);
            }
            long count = Math.max(c.count.sum(), cumulative); // an observation may be half-recorded
            values.set(values.size() - 1, "+Inf");
            out.sample(name + "_bucket", names, values, count);
            out.sample(name + "_sum", labelNames, labels, c.sum.sum());
            out.sample(name + "_count", labelNames, labels, count);
        });
    }
}
