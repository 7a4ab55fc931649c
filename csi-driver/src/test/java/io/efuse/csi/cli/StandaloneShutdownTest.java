package io.efuse.csi.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import csi.v1.ControllerGrpc;
import csi.v1.Csi;
import csi.v1.NodeGrpc;
import io.efuse.csi.testing.Capabilities;
import io.efuse.csi.sys.MountTable;
import io.efuse.csi.testing.Mounts;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import java.io.File;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SIGTERM to `efuse-csi standalone` unmounts every staged and published volume, all at once, and the process exits
 * within --grace-seconds; a connection still in use when the grace runs out is aborted rather than waited for.
 */
class StandaloneShutdownTest {
    private static final Duration START = Duration.ofSeconds(60);
    private static final Csi.VolumeCapability RWO = Csi.VolumeCapability.newBuilder()
            .setMount(Csi.VolumeCapability.MountVolume.getDefaultInstance())
            .setAccessMode(Csi.VolumeCapability.AccessMode.newBuilder()
                    .setMode(Csi.VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER)).build();

    @TempDir
    Path dir;

    private Process process;
    private File log;
    private EventLoopGroup loop;
    private ManagedChannel channel;

    @AfterEach
    void cleanUp() throws Exception {
        if (channel != null) {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        if (loop != null) {
            loop.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
        if (process != null && process.isAlive()) {
            process.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
        }
        Mounts.unmountEverythingUnder(dir);
    }

    @Test
    void sigtermUnmountsAHundredPublishedVolumesWithinTheGrace() throws Exception {
        Capabilities.assumeFuse();
        Duration grace = Duration.ofSeconds(10);
        start(grace);
        List<Path> targets = publish(100);
        assertEquals(200, mountsUnderDir().size(), "100 staging mounts and 100 targets");

        long exit = terminate(grace);
        System.out.printf("standalone with 100 volumes exited %d ms after SIGTERM (grace %d ms)%n", exit,
                grace.toMillis());
        assertTrue(exit <= grace.toMillis(), "standalone took " + exit + " ms to exit after SIGTERM, more than its"
                + " grace of " + grace.toMillis() + " ms: " + read(log));
        assertEquals(List.of(), mountsUnderDir(), "mounts left after standalone exited");
        for (Path target : targets) {
            assertTrue(Files.isDirectory(target) && !MountTable.isMountPoint(target), target.toString());
        }
    }

    @Test
    void aVolumeInUseAtSigtermIsAbortedWithinTheGrace() throws Exception {
        Capabilities.assumeFuse();
        Duration grace = Duration.ofSeconds(4);
        start(grace);
        List<Path> targets = publish(3);
        // An open file keeps the volume's connection up after both its mounts are gone: its workers never end.
        try (FileChannel held = FileChannel.open(targets.get(1).resolve("held"), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE)) {
            long exit = terminate(grace);
            System.out.printf("standalone with a file held open exited %d ms after SIGTERM (grace %d ms)%n", exit,
                    grace.toMillis());
            assertTrue(exit <= grace.toMillis(), "standalone took " + exit + " ms to exit after SIGTERM with a file"
                    + " held open, more than its grace of " + grace.toMillis() + " ms: " + read(log));
            assertEquals(List.of(), mountsUnderDir(), "mounts left after standalone exited");
        }
    }

    private void start(Duration grace) throws Exception {
        Path socket = dir.resolve("csi.sock");
        log = dir.resolve("standalone.log").toFile();
        process = new ProcessBuilder(CliProcess.command("standalone", "--endpoint", "unix://" + socket,
                "--state-dir", dir.resolve("state").toString(), "--backing-root", dir.resolve("backing").toString(),
                "--node-id", "n1", "--engine", "daemon", "--grace-seconds", Long.toString(grace.toSeconds())))
                .redirectErrorStream(true).redirectOutput(log).start();
        long deadline = System.nanoTime() + START.toNanos();
        while (!Files.exists(socket)) {
            assertTrue(process.isAlive(), () -> "standalone exited: " + read(log));
            assertTrue(System.nanoTime() < deadline, () -> "no CSI socket within " + START + ": " + read(log));
            Thread.sleep(50); // a process starting up: nothing to wait on but its socket
        }
        loop = new EpollEventLoopGroup(1);
        channel = NettyChannelBuilder.forAddress(new DomainSocketAddress(socket.toString()))
                .channelType(EpollDomainSocketChannel.class).eventLoopGroup(loop).usePlaintext().build();
    }

    /** Creates, stages and publishes n volumes as kubelet and the provisioner would; their targets. */
    private List<Path> publish(int n) throws IOException {
        ControllerGrpc.ControllerBlockingStub controller = ControllerGrpc.newBlockingStub(channel);
        NodeGrpc.NodeBlockingStub node = NodeGrpc.newBlockingStub(channel);
        List<Path> targets = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String id = controller.createVolume(Csi.CreateVolumeRequest.newBuilder().setName("pvc-" + i)
                    .addVolumeCapabilities(RWO).setCapacityRange(Csi.CapacityRange.newBuilder()
                            .setRequiredBytes(16L << 20)).build()).getVolume().getVolumeId();
            Path staging = Files.createDirectories(dir.resolve("staging/" + i));
            Path target = dir.resolve("pods/" + i + "/mount");
            node.nodeStageVolume(Csi.NodeStageVolumeRequest.newBuilder().setVolumeId(id)
                    .setStagingTargetPath(staging.toString()).setVolumeCapability(RWO).build());
            node.nodePublishVolume(Csi.NodePublishVolumeRequest.newBuilder().setVolumeId(id)
                    .setStagingTargetPath(staging.toString()).setTargetPath(target.toString())
                    .setVolumeCapability(RWO).build());
            targets.add(target);
        }
        return targets;
    }

    /** Sends SIGTERM and waits for the process a little longer than its grace; the milliseconds it took to exit. */
    private long terminate(Duration grace) throws Exception {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        long t = System.nanoTime();
        process.destroy();
        assertTrue(process.waitFor(grace.toSeconds() + 30, TimeUnit.SECONDS), () -> "standalone still runs "
                + (grace.toSeconds() + 30) + " s after SIGTERM: " + read(log));
        return (System.nanoTime() - t) / 1_000_000;
    }

    private List<String> mountsUnderDir() throws IOException {
        List<String> out = new ArrayList<>();
        for (MountTable.Entry e : MountTable.read()) {
            if (Path.of(e.mountPoint()).startsWith(dir)) {
                out.add(e.mountPoint());
            }
        }
        return out;
    }

    /** The end of the process's log: what it did last. */
    private static String read(File f) {
        try {
            String all = Files.readString(f.toPath());
            return all.substring(Math.max(0, all.length() - 6000));
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }
}
