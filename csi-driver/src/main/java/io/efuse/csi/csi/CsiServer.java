package io.efuse.csi.csi;

import io.efuse.csi.metrics.RpcMetrics;
import io.grpc.BindableService;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.ChannelOption;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.Epoll;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The CSI gRPC endpoint: a unix domain socket served by netty's epoll transport, as kubelet and the CSI sidecars
 * expect it. Handlers run on virtual threads, since they block on mounts and disks. Closing it stops accepting
 * calls, lets the ones in flight finish within a grace period, and removes the socket.
 */
public final class CsiServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(CsiServer.class);

    private final Path socket;
    private final Server server;
    private final EventLoopGroup boss;
    private final EventLoopGroup workers;
    private final ExecutorService handlers;
    private final Duration grace;

    private CsiServer(Path socket, Server server, EventLoopGroup boss, EventLoopGroup workers,
                      ExecutorService handlers, Duration grace) {
        this.socket = socket;
        this.server = server;
        this.boss = boss;
        this.workers = workers;
        this.handlers = handlers;
        this.grace = grace;
    }

    /** The socket path of a CSI endpoint: {@code unix:///abs/path}, {@code unix:/abs/path} or a bare absolute path. */
    public static Path socketPath(String endpoint) {
        String p;
        if (endpoint.startsWith("unix://")) {
            URI uri = URI.create(endpoint);
            if (uri.getAuthority() != null && !uri.getAuthority().isEmpty()) {
                throw new IllegalArgumentException("endpoint " + endpoint + ": write unix:///absolute/path "
                        + "(three slashes)");
            }
            p = uri.getPath();
        } else if (endpoint.startsWith("unix:")) {
            p = endpoint.substring("unix:".length());
        } else if (endpoint.startsWith("/")) {
            p = endpoint;
        } else {
            throw new IllegalArgumentException("endpoint " + endpoint + " is not a unix socket; use unix:///path");
        }
        if (p == null || !p.startsWith("/")) {
            throw new IllegalArgumentException("endpoint " + endpoint + " needs an absolute socket path");
        }
        return Path.of(p);
    }

    public static CsiServer start(String endpoint, List<BindableService> services, Duration grace)
            throws IOException {
        return start(endpoint, services, grace, null);
    }

    /** As {@link #start(String, List, Duration)}, counting and timing every call in rpcMetrics (null: not). */
    public static CsiServer start(String endpoint, List<BindableService> services, Duration grace,
            RpcMetrics rpcMetrics) throws IOException {
        if (!Epoll.isAvailable()) {
            throw new IOException("netty epoll is not available, so no unix socket can be served: "
                    + Epoll.unavailabilityCause());
        }
        Path socket = socketPath(endpoint);
        Files.createDirectories(socket.getParent());
        if (Files.exists(socket, LinkOption.NOFOLLOW_LINKS)) {
            if (!Files.readAttributes(socket, java.nio.file.attribute.BasicFileAttributes.class,
                    LinkOption.NOFOLLOW_LINKS).isOther()) {
                throw new IOException("endpoint " + socket + " exists and is not a socket; refusing to replace it");
            }
            Files.delete(socket); // left by a process that did not shut down cleanly
        }
        EventLoopGroup boss = new EpollEventLoopGroup(1);
        EventLoopGroup workers = new EpollEventLoopGroup(2);
        ExecutorService handlers = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("csi-", 0).factory());
        RequestLogging logging = new RequestLogging();
        NettyServerBuilder b = NettyServerBuilder.forAddress(new DomainSocketAddress(socket.toString()))
                .channelType(EpollServerDomainSocketChannel.class)
                // gRPC asks every accepted connection for TCP keepalive, which a unix socket does not have (netty
                // warns once per connection); a null value takes the option off the connections' list.
                .withChildOption(ChannelOption.SO_KEEPALIVE, null)
                .bossEventLoopGroup(boss)
                .workerEventLoopGroup(workers)
                .executor(handlers);
        for (BindableService s : services) {
            // The last interceptor given runs first: metrics time the call including its logging.
            b.addService(rpcMetrics == null ? ServerInterceptors.intercept(s, logging)
                    : ServerInterceptors.intercept(s, logging, new RpcMetricsInterceptor(rpcMetrics)));
        }
        Server server;
        try {
            server = b.build().start();
        } catch (IOException | RuntimeException e) {
            boss.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS);
            workers.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS);
            handlers.shutdownNow();
            throw new IOException("serve CSI on " + socket + ": " + e.getMessage(), e);
        }
        Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-rw----"));
        LOG.info("CSI endpoint listening on unix://{}", socket);
        return new CsiServer(socket, server, boss, workers, handlers, grace);
    }

    public Path socket() {
        return socket;
    }

    public void awaitTermination() throws InterruptedException {
        server.awaitTermination();
    }

    /** Closes with time for the calls in flight (the grace) and 5 s more for the ones cancelled after it. */
    @Override
    public void close() {
        close(grace.plus(Duration.ofSeconds(5)));
    }

    /**
     * Closes within left: calls in flight may finish within the grace (no longer than left), then the rest are
     * cancelled and waited for until left runs out.
     */
    public void close(Duration left) {
        long end = System.nanoTime() + left.toNanos();
        server.shutdown();
        try {
            long calls = Math.min(grace.toNanos(), left.toNanos());
            if (!server.awaitTermination(calls, TimeUnit.NANOSECONDS)) {
                LOG.warn("calls still running after {} ms; cancelling them", calls / 1_000_000);
                server.shutdownNow();
                server.awaitTermination(Math.max(0, end - System.nanoTime()), TimeUnit.NANOSECONDS);
            }
        } catch (InterruptedException e) {
            server.shutdownNow();
            Thread.currentThread().interrupt();
        }
        handlers.shutdown();
        boss.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        workers.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        try {
            Files.deleteIfExists(socket);
        } catch (IOException e) {
            LOG.warn("removing socket {}: {}", socket, e.getMessage());
        }
    }
}
