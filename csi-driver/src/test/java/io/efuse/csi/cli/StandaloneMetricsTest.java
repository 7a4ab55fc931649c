package io.efuse.csi.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import csi.v1.ControllerGrpc;
import csi.v1.Csi;
import csi.v1.NodeGrpc;
import io.efuse.csi.bpf.BpfHost;
import io.efuse.csi.bpf.NodeMonitor;
import io.efuse.csi.metrics.Scrape;
import io.efuse.csi.testing.BoundedWait;
import io.efuse.csi.testing.RequiresBpf;
import io.efuse.csi.testing.RequiresFuse;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import java.io.File;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * `efuse-csi standalone` as a process, as users run it: its metrics endpoint exports the volumes it stages with
 * their FUSE series, its CSI calls and, with --slow-request-ms, the requests over the threshold.
 */
class StandaloneMetricsTest {
    private static final Duration BOUND = Duration.ofSeconds(60);

    @TempDir
    Path dir;

    private static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @RequiresFuse
    @RequiresBpf
    @Test
    void theStandaloneEndpointExportsItsVolumesCallsAndSlowRequests() throws Exception {
        int port = freePort();
        Path socket = dir.resolve("csi.sock");
        File log = dir.resolve("standalone.log").toFile();
        // 0.001 ms: every request of the volume counts as slow, so the path from the ring buffer is exercised.
        Process p = new ProcessBuilder(CliProcess.command("standalone", "--endpoint", "unix://" + socket,
                "--state-dir", dir.resolve("state").toString(), "--backing-root", dir.resolve("backing").toString(),
                "--metrics-address", "127.0.0.1:" + port, "--slow-request-ms", "0.001", "--node-id", "n1"))
                .redirectErrorStream(true).redirectOutput(log).start();
        EventLoopGroup loop = new EpollEventLoopGroup(1);
        ManagedChannel channel = null;
        Path staging = dir.resolve("staging");
        try {
            // a process starting up: nothing to wait on but its socket
            BoundedWait.upTo(BOUND).whileAlive(p).explainedBy(() -> read(log)).until("the CSI socket of standalone",
                    () -> Files.exists(socket));
            channel = NettyChannelBuilder.forAddress(new DomainSocketAddress(socket.toString()))
                    .channelType(EpollDomainSocketChannel.class).eventLoopGroup(loop).usePlaintext().build();
            Csi.VolumeCapability rwo = Csi.VolumeCapability.newBuilder()
                    .setMount(Csi.VolumeCapability.MountVolume.getDefaultInstance())
                    .setAccessMode(Csi.VolumeCapability.AccessMode.newBuilder()
                            .setMode(Csi.VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER)).build();
            String id = ControllerGrpc.newBlockingStub(channel).createVolume(Csi.CreateVolumeRequest.newBuilder()
                    .setName("watched").addVolumeCapabilities(rwo).setCapacityRange(
                            Csi.CapacityRange.newBuilder().setRequiredBytes(64L << 20)).build()).getVolume().getVolumeId();
            NodeGrpc.NodeBlockingStub node = NodeGrpc.newBlockingStub(channel);
            node.nodeStageVolume(Csi.NodeStageVolumeRequest.newBuilder().setVolumeId(id)
                    .setStagingTargetPath(staging.toString()).setVolumeCapability(rwo).build());
            for (int i = 0; i < 3; i++) {
                Files.writeString(staging.resolve("f" + i), "x");
            }

            assertEquals(200, Scrape.get(port, "/healthz").statusCode());
            // the ring buffer is polled on its own thread
            String slowCreates = "efuse_fuse_slow_requests_total{volume=\"" + id + "\",op=\"create\"}";
            BoundedWait.upTo(BOUND).every(Duration.ofMillis(100)).until("the slow creates to be counted",
                    () -> Scrape.get(port, "/metrics").body().contains(slowCreates));
            String text = Scrape.get(port, "/metrics").body();
            assertEquals(1, Scrape.value(text, "efuse_fuse_monitor_up"));
            assertEquals(1, Scrape.value(text, "efuse_csi_staged_volumes"));
            assertEquals(1, Scrape.value(text, "efuse_csi_volumes"));
            assertTrue(Scrape.value(text, "efuse_fuse_requests_total{volume=\"" + id + "\",op=\"create\"}") >= 3, text);
            assertTrue(Scrape.value(text, "efuse_fuse_slow_requests_total{volume=\"" + id + "\",op=\"create\"}") >= 3, text);
            assertEquals(1, Scrape.value(text,
                    "efuse_csi_rpc_requests_total{service=\"Node\",method=\"NodeStageVolume\",code=\"OK\"}"));
            // the log line is written by the ring buffer's thread, after the counter it reads
            BoundedWait.upTo(BOUND).every(Duration.ofMillis(100)).explainedBy(() -> read(log)).until("the log to tell"
                    + " of a slow request", () -> read(log).contains("slow FUSE request on volume " + id));

            node.nodeUnstageVolume(Csi.NodeUnstageVolumeRequest.newBuilder().setVolumeId(id)
                    .setStagingTargetPath(staging.toString()).build());
            assertEquals(0, Scrape.value(Scrape.get(port, "/metrics").body(), "efuse_csi_staged_volumes"));
        } finally {
            if (channel != null) {
                channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            }
            loop.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
            p.destroy(); // SIGTERM: unstages what is left and leaves no mount behind
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "standalone did not stop on SIGTERM");
        }
        // The node's monitor outlives the process; with nobody reading the ring buffer, the threshold is off again.
        try (NodeMonitor monitor = NodeMonitor.start(BpfHost.system())) {
            assertEquals(Duration.ZERO, monitor.monitor().orElseThrow().slowThreshold());
        }
    }

    private static String read(File f) {
        try {
            return Files.readString(f.toPath());
        } catch (java.io.IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }
}
