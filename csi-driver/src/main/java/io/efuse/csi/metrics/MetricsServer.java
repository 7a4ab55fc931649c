package io.efuse.csi.metrics;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves a registry at {@code /metrics} (Prometheus text format) and the process's readiness at {@code /healthz}
 * (200 "ok" or 503 "not ready", for liveness probes) over the JDK's HTTP server.
 */
public final class MetricsServer implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(MetricsServer.class);
    static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

    private final HttpServer server;
    private final ExecutorService executor;

    private MetricsServer(HttpServer server, ExecutorService executor) {
        this.server = server;
        this.executor = executor;
    }

    /** Listens on address (port 0 picks a free port); /healthz always answers ok. */
    public static MetricsServer start(InetSocketAddress address, MetricsRegistry registry) {
        return start(address, registry, () -> true);
    }

    /** Listens on address (port 0 picks a free port); /healthz answers as healthy says. */
    public static MetricsServer start(InetSocketAddress address, MetricsRegistry registry, BooleanSupplier healthy) {
        HttpServer server;
        try {
            server = HttpServer.create(address, 16);
        } catch (IOException e) {
            throw new UncheckedIOException("metrics endpoint: bind " + address, e);
        }
        ExecutorService executor = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "metrics-http");
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(executor);
        server.createContext("/metrics", exchange -> serve(exchange, registry));
        server.createContext("/healthz", exchange -> health(exchange, healthy));
        server.createContext("/", exchange -> {
            exchange.sendResponseHeaders(404, -1);
            exchange.close();
        });
        server.start();
        LOG.info("metrics at http://{}:{}/metrics", address.getHostString(), server.getAddress().getPort());
        return new MetricsServer(server, executor);
    }

    private static void serve(HttpExchange exchange, MetricsRegistry registry) throws IOException {
        try (exchange) {
            if (!exchange.getRequestMethod().equals("GET") && !exchange.getRequestMethod().equals("HEAD")) {
                exchange.sendResponseHeaders(405, -1);
                return;
            }
            byte[] body;
            try {
                body = registry.scrape().getBytes(StandardCharsets.UTF_8);
            } catch (RuntimeException e) {
                LOG.warn("metrics scrape failed", e);
                byte[] msg = ("scrape failed: " + e).getBytes(StandardCharsets.UTF_8);
                exchange.sendResponseHeaders(500, msg.length);
                exchange.getResponseBody().write(msg);
                return;
            }
            exchange.getResponseHeaders().set("Content-Type", CONTENT_TYPE);
            boolean head = exchange.getRequestMethod().equals("HEAD");
            exchange.sendResponseHeaders(200, head ? -1 : body.length);
            if (!head) {
                try (OutputStream out = exchange.getResponseBody()) {
                    out.write(body);
                }
            }
        }
    }

    private static void health(HttpExchange exchange, BooleanSupplier healthy) throws IOException {
        try (exchange) {
            boolean ok;
            try {
                ok = healthy.getAsBoolean();
            } catch (RuntimeException e) {
                LOG.warn("health check failed", e);
                ok = false;
            }
            byte[] body = (ok ? "ok\n" : "not ready\n").getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
            exchange.sendResponseHeaders(ok ? 200 : 503, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        }
    }

    public int port() {
        return server.getAddress().getPort();
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }
}
