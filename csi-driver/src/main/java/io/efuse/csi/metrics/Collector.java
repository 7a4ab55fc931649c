package io.efuse.csi.metrics;

/** Something that writes metric families when the endpoint is scraped. */
@FunctionalInterface
public interface Collector {
    void collect(MetricWriter out);
}
