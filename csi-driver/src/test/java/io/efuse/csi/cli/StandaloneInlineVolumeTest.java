package io.efuse.csi.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import csi.v1.Csi;
import csi.v1.NodeGrpc;
import io.efuse.csi.testing.BoundedWait;
import io.efuse.csi.testing.ProcessRunner;
import io.efuse.csi.testing.RequiresFuse;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * `efuse-csi standalone` as a process: inline volumes are made only with --allow-inline-volumes, within
 * --inline-volume-max-size, and a bad bound stops the process at start saying why.
 */
class StandaloneInlineVolumeTest {
    private static final Duration BOUND = Duration.ofSeconds(60);
    private static final String HANDLE = "csi-0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

    @TempDir
    Path dir;

    /** Runs standalone with extra arguments, calls NodePublishVolume of an inline volume, stops it; the error or null. */
    private Status publishInline(String size, String... extra) throws Exception {
        Path socket = dir.resolve("csi.sock");
        File log = dir.resolve("standalone.log").toFile();
        List<String> args = new ArrayList<>(List.of("standalone", "--endpoint", "unix://" + socket, "--state-dir",
                dir.resolve("state").toString(), "--backing-root", dir.resolve("backing").toString(), "--node-id", "n1"));
        args.addAll(List.of(extra));
        Process p = new ProcessBuilder(CliProcess.command(args.toArray(String[]::new))).redirectErrorStream(true)
                .redirectOutput(log).start();
        EventLoopGroup loop = new EpollEventLoopGroup(1);
        ManagedChannel channel = null;
        Path target = dir.resolve("pods/p1/mount");
        try {
            // a process starting up: nothing to wait on but its socket
            BoundedWait.upTo(BOUND).whileAlive(p).explainedBy(() -> read(log)).until("the CSI socket of standalone",
                    () -> Files.exists(socket));
            channel = NettyChannelBuilder.forAddress(new DomainSocketAddress(socket.toString()))
                    .channelType(EpollDomainSocketChannel.class).eventLoopGroup(loop).usePlaintext().build();
            NodeGrpc.NodeBlockingStub node = NodeGrpc.newBlockingStub(channel);
            Csi.VolumeCapability rwo = Csi.VolumeCapability.newBuilder()
                    .setMount(Csi.VolumeCapability.MountVolume.getDefaultInstance())
                    .setAccessMode(Csi.VolumeCapability.AccessMode.newBuilder()
                            .setMode(Csi.VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER)).build();
            try {
                node.nodePublishVolume(Csi.NodePublishVolumeRequest.newBuilder().setVolumeId(HANDLE)
                        .setTargetPath(target.toString()).setVolumeCapability(rwo)
                        .putAllVolumeContext(Map.of("csi.storage.k8s.io/ephemeral", "true", "size", size)).build());
            } catch (StatusRuntimeException e) {
                return e.getStatus();
            }
            assertEquals(Csi.VolumeUsage.Unit.BYTES, node.nodeGetVolumeStats(Csi.NodeGetVolumeStatsRequest.newBuilder()
                    .setVolumeId(HANDLE).setVolumePath(target.toString()).build()).getUsage(0).getUnit());
            node.nodeUnpublishVolume(Csi.NodeUnpublishVolumeRequest.newBuilder().setVolumeId(HANDLE)
                    .setTargetPath(target.toString()).build());
            try (var left = Files.list(dir.resolve("backing/volumes"))) {
                assertEquals(List.of(), left.toList());
            }
            return null;
        } finally {
            if (channel != null) {
                channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            }
            loop.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
            p.destroy();
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "standalone did not stop on SIGTERM");
        }
    }

    @RequiresFuse
    @Test
    void inlineVolumesAreMadeOnlyWhenAllowedAndWithinTheBound() throws Exception {
        Status off = publishInline("8Mi");
        assertEquals(Status.Code.FAILED_PRECONDITION, off.getCode(), off.toString());
        assertTrue(off.getDescription().contains("--allow-inline-volumes"), off.getDescription());

        assertEquals(null, publishInline("8Mi", "--allow-inline-volumes", "--inline-volume-max-size", "16Mi"));
        Status big = publishInline("32Mi", "--allow-inline-volumes", "--inline-volume-max-size", "16Mi");
        assertEquals(Status.Code.INVALID_ARGUMENT, big.getCode(), big.toString());
    }

    @RequiresFuse
    @Test
    void aBadBoundStopsTheProcessAtStart() throws Exception {
        ProcessRunner.Result r = CliProcess.run(CliProcess.command("standalone", "--endpoint",
                "unix://" + dir.resolve("s"), "--state-dir", dir.resolve("state").toString(), "--backing-root",
                dir.resolve("backing").toString(), "--allow-inline-volumes", "--inline-volume-max-size", "lots"));
        assertNotEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("--inline-volume-max-size: 'lots' is not a size"), r.output());
        assertThrows(java.nio.file.NoSuchFileException.class, () -> Files.readAttributes(dir.resolve("s"),
                java.nio.file.attribute.BasicFileAttributes.class), "no socket was served");
    }

    private static String read(File f) {
        try {
            return Files.readString(f.toPath());
        } catch (java.io.IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }
}
