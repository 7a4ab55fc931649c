package io.efuse.csi.csi;

import io.efuse.csi.metrics.RpcMetrics;
import io.grpc.ForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.time.Duration;

/** Counts and times every CSI call by service ("Node"), method ("NodePublishVolume") and gRPC status code. */
final class RpcMetricsInterceptor implements ServerInterceptor {
    private static final String CSI_PACKAGE = "csi.v1.";

    private final RpcMetrics metrics;

    RpcMetricsInterceptor(RpcMetrics metrics) {
        this.metrics = metrics;
    }

    static String service(String fullServiceName) {
        return fullServiceName != null && fullServiceName.startsWith(CSI_PACKAGE)
                ? fullServiceName.substring(CSI_PACKAGE.length()) : String.valueOf(fullServiceName);
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                      ServerCallHandler<Q, R> next) {
        String service = service(call.getMethodDescriptor().getServiceName());
        String method = call.getMethodDescriptor().getBareMethodName();
        long start = System.nanoTime();
        return next.startCall(new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
            @Override
            public void close(Status status, Metadata trailers) {
                metrics.observe(service, method, status.getCode().name(), Duration.ofNanos(System.nanoTime() - start));
                super.close(status, trailers);
            }
        }, headers);
    }
}
