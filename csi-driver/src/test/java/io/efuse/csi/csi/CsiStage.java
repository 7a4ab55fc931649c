package io.efuse.csi.csi;

import csi.v1.ControllerGrpc;
import csi.v1.Csi;
import csi.v1.IdentityGrpc;
import csi.v1.NodeGrpc;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * The calls kubelet and the CSI sidecars make for a PersistentVolumeClaim, made one at a time from a shell against a
 * running {@code efuse-csi standalone}, for bench/run.sh's pvc targets and bench/snapshot.sh. A tool, not a test.
 *
 * <pre>
 * java -cp TEST_CLASSPATH io.efuse.csi.csi.CsiStage COMMAND ARGS...
 *   up SOCKET NAME BYTES ENGINE STAGING TARGET    CreateVolume (parameter engine=ENGINE), NodeStage, NodePublish;
 *                                                 prints the volume id
 *   attach SOCKET ID STAGING TARGET               NodeStage and NodePublish of an existing volume
 *   down SOCKET ID STAGING TARGET                 NodeUnpublish, NodeUnstage, DeleteVolume
 *   stats SOCKET ID PATH                          NodeGetVolumeStats: condition message, bytes and inodes used
 *   fill DIR FILES BYTES                          writes BYTES of incompressible data into FILES files under DIR
 *   times SOCKET ID BYTES ENGINE PREFIX           times CreateSnapshot of ID, CreateVolume from that snapshot and
 *                                                 CreateVolume from ID; prints "call seconds id" per line
 *   delete-snapshot SOCKET ID
 * </pre>
 *
 * Exits 1 with the call that failed and the driver's status on stderr, 2 on bad arguments.
 */
public final class CsiStage {
    /** How long to wait for the driver's Probe to answer ready: a JVM start and the store's recovery. */
    private static final long READY_SECONDS = Long.getLong("csistage.readySeconds", 60);

    private final ControllerGrpc.ControllerBlockingStub ctl;
    private final NodeGrpc.NodeBlockingStub node;
    private final IdentityGrpc.IdentityBlockingStub identity;
    private final Path socket;

    private CsiStage(ManagedChannel ch, Path socket) {
        this.ctl = ControllerGrpc.newBlockingStub(ch);
        this.node = NodeGrpc.newBlockingStub(ch);
        this.identity = IdentityGrpc.newBlockingStub(ch);
        this.socket = socket;
    }

    public static void main(String[] args) throws Exception {
        if (args.length == 0) {
            usage("no command");
        }
        String cmd = args[0];
        if (cmd.equals("fill")) {
            need(args, 4);
            fill(Path.of(args[1]), Integer.parseInt(args[2]), Long.parseLong(args[3]));
            return;
        }
        if (args.length < 2) {
            usage(cmd + " needs the driver's socket");
        }
        Path socket = Path.of(args[1]);
        var loop = new EpollEventLoopGroup(1);
        ManagedChannel ch = NettyChannelBuilder.forAddress(new DomainSocketAddress(socket.toString()))
                .channelType(EpollDomainSocketChannel.class).eventLoopGroup(loop).usePlaintext().build();
        int rc = 0;
        try {
            CsiStage c = new CsiStage(ch, socket);
            c.awaitReady();
            switch (cmd) {
                case "up" -> {
                    need(args, 7);
                    String id = c.create(args[2], Long.parseLong(args[3]), args[4], null);
                    c.attach(id, Path.of(args[5]), Path.of(args[6]));
                    System.err.println("volume " + id + ": " + c.condition(id, Path.of(args[6])));
                    System.out.println(id);
                }
                case "attach" -> {
                    need(args, 5);
                    c.attach(args[2], Path.of(args[3]), Path.of(args[4]));
                    System.err.println("volume " + args[2] + ": " + c.condition(args[2], Path.of(args[4])));
                }
                case "down" -> {
                    need(args, 5);
                    c.down(args[2], Path.of(args[3]), Path.of(args[4]));
                }
                case "stats" -> {
                    need(args, 4);
                    var r = c.node.nodeGetVolumeStats(Csi.NodeGetVolumeStatsRequest.newBuilder()
                            .setVolumeId(args[2]).setVolumePath(args[3]).build());
                    System.out.println("condition " + r.getVolumeCondition().getMessage());
                    for (Csi.VolumeUsage u : r.getUsageList()) {
                        System.out.println(u.getUnit().name().toLowerCase() + " " + u.getUsed() + " used of "
                                + u.getTotal());
                    }
                }
                case "times" -> {
                    need(args, 6);
                    c.times(args[2], Long.parseLong(args[3]), args[4], args[5]);
                }
                case "delete-snapshot" -> {
                    need(args, 3);
                    c.ctl.deleteSnapshot(Csi.DeleteSnapshotRequest.newBuilder().setSnapshotId(args[2]).build());
                }
                default -> usage("unknown command '" + cmd + "'");
            }
        } catch (Failure e) {
            System.err.println("csi-stage: " + e.getMessage());
            rc = 1;
        } catch (StatusRuntimeException e) {
            System.err.println("csi-stage: " + cmd + ": " + e.getStatus().getCode() + ": "
                    + e.getStatus().getDescription());
            rc = 1;
        } finally {
            ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            loop.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        }
        System.exit(rc);
    }

    private static final class Failure extends Exception {
        Failure(String message) {
            super(message);
        }
    }

    /**
     * The socket appears before the store has recovered its records, and a call then answers UNAVAILABLE: wait for
     * Probe to say ready, and say which of the two never happened.
     */
    private void awaitReady() throws Failure, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(READY_SECONDS);
        String last = "no answer";
        while (System.nanoTime() < deadline) {
            if (!Files.exists(socket)) {
                last = "the socket " + socket + " does not exist (is efuse-csi standalone running?)";
            } else {
                try {
                    var r = identity.withDeadlineAfter(5, TimeUnit.SECONDS)
                            .probe(Csi.ProbeRequest.getDefaultInstance());
                    if (!r.hasReady() || r.getReady().getValue()) {
                        return;
                    }
                    last = "Probe answers ready: false";
                } catch (StatusRuntimeException e) {
                    last = "Probe failed: " + e.getStatus().getCode() + " " + e.getStatus().getDescription();
                }
            }
            Thread.sleep(200);
        }
        throw new Failure("the driver at " + socket + " was not ready within " + READY_SECONDS + " s: " + last);
    }

    private static Csi.VolumeCapability rwo() {
        return Csi.VolumeCapability.newBuilder().setMount(Csi.VolumeCapability.MountVolume.getDefaultInstance())
                .setAccessMode(Csi.VolumeCapability.AccessMode.newBuilder()
                        .setMode(Csi.VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER)).build();
    }

    private String create(String name, long bytes, String engine, Csi.VolumeContentSource source) {
        var req = Csi.CreateVolumeRequest.newBuilder().setName(name).addVolumeCapabilities(rwo())
                .setCapacityRange(Csi.CapacityRange.newBuilder().setRequiredBytes(bytes))
                .putAllParameters(Map.of(VolumeParameters.ENGINE, engine));
        if (source != null) {
            req.setVolumeContentSource(source);
        }
        return ctl.createVolume(req.build()).getVolume().getVolumeId();
    }

    /** Stages and publishes as kubelet does: the volume context of the volume goes to both calls. */
    private void attach(String id, Path staging, Path target) throws IOException {
        Map<String, String> context = volumeContext(id);
        Files.createDirectories(staging);
        Files.createDirectories(target.getParent());
        node.nodeStageVolume(Csi.NodeStageVolumeRequest.newBuilder().setVolumeId(id)
                .setStagingTargetPath(staging.toString()).setVolumeCapability(rwo())
                .putAllVolumeContext(context).build());
        node.nodePublishVolume(Csi.NodePublishVolumeRequest.newBuilder().setVolumeId(id)
                .setStagingTargetPath(staging.toString()).setTargetPath(target.toString())
                .setVolumeCapability(rwo()).putAllVolumeContext(context).build());
    }

    private Map<String, String> volumeContext(String id) {
        for (var e : ctl.listVolumes(Csi.ListVolumesRequest.getDefaultInstance()).getEntriesList()) {
            if (e.getVolume().getVolumeId().equals(id)) {
                return e.getVolume().getVolumeContextMap();
            }
        }
        return Map.of();
    }

    /** The volume condition's message, which names the engine and the tier the node really serves. */
    private String condition(String id, Path path) throws Failure {
        var r = node.nodeGetVolumeStats(Csi.NodeGetVolumeStatsRequest.newBuilder().setVolumeId(id)
                .setVolumePath(path.toString()).build());
        if (r.getVolumeCondition().getAbnormal()) {
            throw new Failure("volume " + id + " is published but abnormal: " + r.getVolumeCondition().getMessage());
        }
        return r.getVolumeCondition().getMessage();
    }

    /** Every step is tried, so that a failed one leaves as little behind as it can; the first failure is reported. */
    private void down(String id, Path staging, Path target) throws Failure {
        StringBuilder failed = new StringBuilder();
        try {
            node.nodeUnpublishVolume(Csi.NodeUnpublishVolumeRequest.newBuilder().setVolumeId(id)
                    .setTargetPath(target.toString()).build());
        } catch (StatusRuntimeException e) {
            failed.append("NodeUnpublishVolume: ").append(e.getStatus()).append("; ");
        }
        try {
            node.nodeUnstageVolume(Csi.NodeUnstageVolumeRequest.newBuilder().setVolumeId(id)
                    .setStagingTargetPath(staging.toString()).build());
        } catch (StatusRuntimeException e) {
            failed.append("NodeUnstageVolume: ").append(e.getStatus()).append("; ");
        }
        try {
            ctl.deleteVolume(Csi.DeleteVolumeRequest.newBuilder().setVolumeId(id).build());
        } catch (StatusRuntimeException e) {
            failed.append("DeleteVolume: ").append(e.getStatus()).append("; ");
        }
        if (!failed.isEmpty()) {
            throw new Failure("taking down volume " + id + ": " + failed);
        }
    }

    /**
     * One CreateSnapshot, one restore from it and one clone of the source, each timed from the request to the
     * answer: a local store answers when the data is in place, so that is the time a PVC waits for.
     */
    private void times(String source, long bytes, String engine, String prefix) {
        long t = System.nanoTime();
        Csi.Snapshot snap = ctl.createSnapshot(Csi.CreateSnapshotRequest.newBuilder().setName(prefix + "-snap")
                .setSourceVolumeId(source).build()).getSnapshot();
        print("snapshot", t, snap.getSnapshotId());
        if (!snap.getReadyToUse()) {
            System.err.println("csi-stage: snapshot " + snap.getSnapshotId() + " answered ready_to_use: false");
        }
        t = System.nanoTime();
        String restored = create(prefix + "-restore", bytes, engine, Csi.VolumeContentSource.newBuilder()
                .setSnapshot(Csi.VolumeContentSource.SnapshotSource.newBuilder()
                        .setSnapshotId(snap.getSnapshotId())).build());
        print("restore", t, restored);
        t = System.nanoTime();
        String cloned = create(prefix + "-clone", bytes, engine, Csi.VolumeContentSource.newBuilder()
                .setVolume(Csi.VolumeContentSource.VolumeSource.newBuilder().setVolumeId(source)).build());
        print("clone", t, cloned);
    }

    private static void print(String call, long startNanos, String id) {
        System.out.printf("%s %.3f %s%n", call, (System.nanoTime() - startNanos) / 1e9, id);
        System.out.flush();
    }

    /** Random bytes, so that neither a sparse copy nor compression makes the data smaller than it is. */
    private static void fill(Path dir, int files, long bytes) throws IOException {
        Files.createDirectories(dir);
        var random = new SplittableRandom(files ^ bytes);
        byte[] buf = new byte[1 << 16];
        long each = bytes / files;
        for (int i = 0; i < files; i++) {
            // a hundred files per directory, as an application's tree would have, not 10,000 in one
            Path sub = Files.createDirectories(dir.resolve(String.format("d%03d", i / 100)));
            long left = each + (i < bytes % files ? 1 : 0);
            try (OutputStream out = Files.newOutputStream(sub.resolve(String.format("f%05d", i)))) {
                while (left > 0) {
                    random.nextBytes(buf);
                    int n = (int) Math.min(buf.length, left);
                    out.write(buf, 0, n);
                    left -= n;
                }
            }
        }
    }

    private static void need(String[] args, int n) {
        if (args.length != n) {
            usage(args[0] + " takes " + (n - 1) + " arguments, got " + (args.length - 1));
        }
    }

    private static void usage(String why) {
        System.err.println("csi-stage: " + why + "\nusage: CsiStage up SOCKET NAME BYTES ENGINE STAGING TARGET | attach"
                + " SOCKET ID STAGING TARGET | down SOCKET ID STAGING TARGET | stats SOCKET ID PATH | fill DIR FILES"
                + " BYTES | times SOCKET ID BYTES ENGINE PREFIX | delete-snapshot SOCKET ID");
        System.exit(2);
    }
}
