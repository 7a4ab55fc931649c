package io.efuse.csi.metrics;

import java.time.Duration;

/** Counts and times the CSI gRPC calls a plugin serves. */
public final class RpcMetrics {

    private final Counter calls;
    private final Histogram durations;

    public RpcMetrics(MetricsRegistry registry) {
        calls = registry.counter("efuse_csi_rpc_requests_total", "CSI RPCs served, by service, method and gRPC code",
                "service", "method", "code");
        durations = registry.histogram("efuse_csi_rpc_duration_seconds", "Time to serve a CSI RPC",
                Histogram.DURATION_SECONDS, "service", "method");
    }

    /**
     * Records one finished call: service as in the CSI proto ("Node", "Controller", "Identity"), method as in it
     * ("NodePublishVolume"), code the gRPC status code name ("OK", "NOT_FOUND").
     */
    public void observe(String service, String method, String code, Duration elapsed) {
        calls.inc(service, method, code);
        durations.observe(elapsed.toNanos() / 1e9, service, method);
    }
}
