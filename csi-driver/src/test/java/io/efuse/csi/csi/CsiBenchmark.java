package io.efuse.csi.csi;

import csi.v1.ControllerGrpc;
import csi.v1.Csi;
import csi.v1.NodeGrpc;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Latency of the CSI calls kubelet and the provisioner make, measured against a running
 * {@code efuse-csi standalone} over its socket, and the resident memory of that process with N volumes staged.
 * A benchmark, not a test: run it by hand (docs/csi.md says how), it prints figures and cleans up after itself.
 *
 * <pre>java -cp TEST_CLASSPATH io.efuse.csi.csi.CsiBenchmark SOCKET PID WORKDIR [N]</pre>
 */
public final class CsiBenchmark {
    private CsiBenchmark() {}

    public static void main(String[] args) throws Exception {
        Path socket = Path.of(args[0]);
        long pid = Long.parseLong(args[1]);
        Path work = Path.of(args[2]);
        int n = args.length > 3 ? Integer.parseInt(args[3]) : 100;
        var loop = new EpollEventLoopGroup(1);
        ManagedChannel ch = NettyChannelBuilder.forAddress(new DomainSocketAddress(socket.toString()))
                .channelType(EpollDomainSocketChannel.class).eventLoopGroup(loop).usePlaintext().build();
        try {
            var ctl = ControllerGrpc.newBlockingStub(ch);
            var node = NodeGrpc.newBlockingStub(ch);
            var cap = CsiTestDriver.rwo();
            long rssBefore = rssKib(pid);
            // warm-up: one full cycle so that class loading is not measured
            cycle(ctl, node, cap, work, "warmup");

            List<String> ids = new ArrayList<>();
            long[] create = new long[n];
            for (int i = 0; i < n; i++) {
                long t = System.nanoTime();
                ids.add(ctl.createVolume(Csi.CreateVolumeRequest.newBuilder().setName("bench-" + i)
                        .addVolumeCapabilities(cap).setCapacityRange(Csi.CapacityRange.newBuilder()
                                .setRequiredBytes(64L << 20)).build()).getVolume().getVolumeId());
                create[i] = System.nanoTime() - t;
            }
            long[] stage = new long[n];
            for (int i = 0; i < n; i++) {
                Path staging = Files.createDirectories(work.resolve("staging/" + i));
                long t = System.nanoTime();
                node.nodeStageVolume(Csi.NodeStageVolumeRequest.newBuilder().setVolumeId(ids.get(i))
                        .setStagingTargetPath(staging.toString()).setVolumeCapability(cap).build());
                stage[i] = System.nanoTime() - t;
            }
            long[] publish = new long[n];
            for (int i = 0; i < n; i++) {
                long t = System.nanoTime();
                node.nodePublishVolume(Csi.NodePublishVolumeRequest.newBuilder().setVolumeId(ids.get(i))
                        .setStagingTargetPath(work.resolve("staging/" + i).toString())
                        .setTargetPath(work.resolve("pods/" + i + "/mount").toString())
                        .setVolumeCapability(cap).build());
                publish[i] = System.nanoTime() - t;
            }
            long rssStaged = rssKib(pid);
            System.out.printf("CreateVolume  (local store) n=%d p50=%.1f ms p99=%.1f ms max=%.1f ms%n", n,
                    pct(create, 50), pct(create, 99), pct(create, 100));
            System.out.printf("NodeStage     (eFuse mount) n=%d p50=%.1f ms p99=%.1f ms max=%.1f ms%n", n,
                    pct(stage, 50), pct(stage, 99), pct(stage, 100));
            System.out.printf("NodePublish   (bind mount)  n=%d p50=%.1f ms p99=%.1f ms max=%.1f ms%n", n,
                    pct(publish, 50), pct(publish, 99), pct(publish, 100));
            System.out.printf("RSS of the driver: %d MiB before, %d MiB with %d volumes staged and published%n",
                    rssBefore / 1024, rssStaged / 1024, n);
            for (int i = 0; i < n; i++) {
                node.nodeUnpublishVolume(Csi.NodeUnpublishVolumeRequest.newBuilder().setVolumeId(ids.get(i))
                        .setTargetPath(work.resolve("pods/" + i + "/mount").toString()).build());
                node.nodeUnstageVolume(Csi.NodeUnstageVolumeRequest.newBuilder().setVolumeId(ids.get(i))
                        .setStagingTargetPath(work.resolve("staging/" + i).toString()).build());
                ctl.deleteVolume(Csi.DeleteVolumeRequest.newBuilder().setVolumeId(ids.get(i)).build());
            }
        } finally {
            ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            loop.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        }
    }

    private static void cycle(ControllerGrpc.ControllerBlockingStub ctl, NodeGrpc.NodeBlockingStub node,
                              Csi.VolumeCapability cap, Path work, String name) throws Exception {
        String id = ctl.createVolume(Csi.CreateVolumeRequest.newBuilder().setName(name).addVolumeCapabilities(cap)
                .build()).getVolume().getVolumeId();
        Path staging = Files.createDirectories(work.resolve("staging/" + name));
        Path target = work.resolve("pods/" + name + "/mount");
        node.nodeStageVolume(Csi.NodeStageVolumeRequest.newBuilder().setVolumeId(id)
                .setStagingTargetPath(staging.toString()).setVolumeCapability(cap).build());
        node.nodePublishVolume(Csi.NodePublishVolumeRequest.newBuilder().setVolumeId(id)
                .setStagingTargetPath(staging.toString()).setTargetPath(target.toString())
                .setVolumeCapability(cap).build());
        node.nodeUnpublishVolume(Csi.NodeUnpublishVolumeRequest.newBuilder().setVolumeId(id)
                .setTargetPath(target.toString()).build());
        node.nodeUnstageVolume(Csi.NodeUnstageVolumeRequest.newBuilder().setVolumeId(id)
                .setStagingTargetPath(staging.toString()).build());
        ctl.deleteVolume(Csi.DeleteVolumeRequest.newBuilder().setVolumeId(id).build());
    }

    private static double pct(long[] nanos, int p) {
        long[] s = nanos.clone();
        Arrays.sort(s);
        int i = Math.min(s.length - 1, (int) Math.ceil(p / 100.0 * s.length) - 1);
        return s[Math.max(0, i)] / 1e6;
    }

    private static long rssKib(long pid) throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return -1;
    }
}
