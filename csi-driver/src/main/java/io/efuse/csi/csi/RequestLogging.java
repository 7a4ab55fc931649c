package io.efuse.csi.csi;

import com.google.protobuf.Message;
import com.google.protobuf.TextFormat;
import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Logs every call with its request (secrets stripped), its status and how long it took. Probe and the
 * capability queries, which sidecars repeat constantly, log at debug level only.
 */
final class RequestLogging implements ServerInterceptor {
    private static final Logger LOG = LoggerFactory.getLogger(RequestLogging.class);

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                      ServerCallHandler<Q, R> next) {
        String method = call.getMethodDescriptor().getBareMethodName();
        boolean quiet = method != null && (method.equals("Probe") || method.endsWith("GetCapabilities")
                || method.equals("GetPluginInfo") || method.equals("NodeGetVolumeStats"));
        long start = System.nanoTime();
        String[] request = {""};
        ServerCall<Q, R> logged = new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
            @Override
            public void close(Status status, Metadata trailers) {
                long micros = (System.nanoTime() - start) / 1000;
                if (status.isOk()) {
                    if (quiet) {
                        LOG.debug("{} {{}} -> OK in {} us", method, request[0], micros);
                    } else {
                        LOG.info("{} {{}} -> OK in {} us", method, request[0], micros);
                    }
                } else {
                    LOG.warn("{} {{}} -> {}: {} in {} us", method, request[0], status.getCode(),
                            status.getDescription(), micros);
                }
                super.close(status, trailers);
            }
        };
        ServerCall.Listener<Q> listener = next.startCall(logged, headers);
        return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(listener) {
            @Override
            public void onMessage(Q message) {
                if (message instanceof Message m) {
                    request[0] = TextFormat.printer().emittingSingleLine(true)
                            .printToString(SecretRedaction.redact(m)).trim();
                }
                super.onMessage(message);
            }
        };
    }
}
