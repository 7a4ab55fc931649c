package io.efuse.csi.metrics;

import java.util.List;

/**
 * Writes metric families in the Prometheus text exposition format (version 0.0.4): a HELP and a TYPE line per
 * family, then its samples.
 */
public final class MetricWriter {

    private final StringBuilder out;

    public MetricWriter(StringBuilder out) {
        this.out = out;
    }

    /** Starts a family; type is counter, gauge, histogram or untyped. */
    public MetricWriter family(String name, String type, String help) {
        requireName(name);
        out.append("# HELP ").append(name).append(' ').append(help.replace("\\", "\\\\").replace("\n", "\\n"))
                .append('\n');
        out.append("# TYPE ").append(name).append(' ').append(type).append('\n');
        return this;
    }

    public MetricWriter sample(String name, List<String> labelNames, List<String> labelValues, double value) {
        out.append(name);
        if (!labelNames.isEmpty()) {
            out.append('{');
            for (int i = 0; i < labelNames.size(); i++) {
                if (i > 0) {
                    out.append(',');
                }
                out.append(labelNames.get(i)).append("=\"").append(escape(labelValues.get(i))).append('"');
            }
            out.append('}');
        }
        out.append(' ').append(format(value)).append('\n');
        return this;
    }

    public MetricWriter sample(String name, double value) {
        return sample(name, List.of(), List.of(), value);
    }

    static String format(double v) {
        if (Double.isNaN(v)) {
            return "NaN";
        }
        if (Double.isInfinite(v)) {
            return v > 0 ? "+Inf" : "-Inf";
        }
        if (v == Math.rint(v) && Math.abs(v) < 1e15) {
            return Long.toString((long) v);
        }
        return Double.toString(v);
    }

    static String escape(String v) {
        return v.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }

    static void requireName(String name) {
        if (!name.matches("[a-zA-Z_:][a-zA-Z0-9_:]*")) {
            throw new IllegalArgumentException("not a Prometheus metric name: " + name);
        }
    }
}
