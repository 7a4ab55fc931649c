package io.efuse.csi.csi;

import io.efuse.csi.metrics.RpcMetrics;
import csi.v1.ControllerGrpc;
import csi.v1.Csi;
import csi.v1.GroupControllerGrpc;
import csi.v1.IdentityGrpc;
import csi.v1.NodeGrpc;
import io.efuse.csi.volume.BackingRoots;
import io.efuse.csi.volume.BackingStore;
import io.efuse.csi.volume.InlineVolumes;
import io.efuse.csi.volume.LocalVolumeStore;
import io.efuse.csi.volume.VolumeMounter;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A standalone driver served on a real unix socket in a temporary directory, and a client that talks to it the way
 * kubelet and the CSI sidecars do (gRPC over the socket).
 */
final class CsiTestDriver implements AutoCloseable {
    static final String NODE = "node-a";

    final Path dir;
    final LocalVolumeStore store;
    final BackingRoots roots;
    final NodeService nodeService;
    final CsiServer server;
    final ManagedChannel channel;
    final EventLoopGroup clientLoop;
    final IdentityGrpc.IdentityBlockingStub identity;
    final ControllerGrpc.ControllerBlockingStub controller;
    final NodeGrpc.NodeBlockingStub node;
    final GroupControllerGrpc.GroupControllerBlockingStub group;

    CsiTestDriver(Path dir, VolumeMounter mounter, Path backingRoot) throws IOException {
        this(dir, mounter, backingRoot, null);
    }

    /** @param rpcMetrics where the server counts its calls, or null */
    CsiTestDriver(Path dir, VolumeMounter mounter, Path backingRoot, RpcMetrics rpcMetrics) throws IOException {
        this(dir, mounter, backingRoot, rpcMetrics, Inline.NONE);
    }

    /** Inline volumes as the node plugin's flags set them; their records live in the state directory. */
    record Inline(boolean allowed, long maxBytes, long maxVolumes) {
        static final Inline NONE = new Inline(false, 0, 0);
        static final Inline ALLOWED = new Inline(true, 0, 0);
    }

    CsiTestDriver(Path dir, VolumeMounter mounter, Path backingRoot, RpcMetrics rpcMetrics, Inline inline)
            throws IOException {
        this.dir = dir;
        this.roots = new BackingRoots(BackingStore.open(backingRoot), BackingStore.openDirectories(dir.resolve("shared")));
        this.store = new LocalVolumeStore(dir.resolve("state"), NODE, roots);
        this.nodeService = new NodeService(NODE, inline.maxVolumes(), store, roots, mounter, Duration.ofSeconds(2),
                inline == Inline.NONE ? InlineOptions.none() : new InlineOptions(inline.allowed(),
                        new InlineVolumes(dir.resolve("state"), roots.local()), inline.maxBytes()));
        this.server = CsiServer.start("unix://" + dir.resolve("csi.sock"), List.of(
                new IdentityService("efuse.csi.io", "test", true, true, List.of(store::ready)),
                new ControllerService(store, nodeService), nodeService, new GroupControllerService(store)),
                Duration.ofSeconds(5), rpcMetrics);
        store.servedBy(nodeService);
        this.clientLoop = new EpollEventLoopGroup(1);
        this.channel = NettyChannelBuilder.forAddress(new DomainSocketAddress(server.socket().toString()))
                .channelType(EpollDomainSocketChannel.class).eventLoopGroup(clientLoop).usePlaintext().build();
        this.identity = IdentityGrpc.newBlockingStub(channel);
        this.controller = ControllerGrpc.newBlockingStub(channel);
        this.node = NodeGrpc.newBlockingStub(channel);
        this.group = GroupControllerGrpc.newBlockingStub(channel);
    }

    static Csi.VolumeCapability mountCap(Csi.VolumeCapability.AccessMode.Mode mode) {
        return Csi.VolumeCapability.newBuilder().setMount(Csi.VolumeCapability.MountVolume.getDefaultInstance())
                .setAccessMode(Csi.VolumeCapability.AccessMode.newBuilder().setMode(mode)).build();
    }

    static Csi.VolumeCapability rwo() {
        return mountCap(Csi.VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER);
    }

    Csi.Volume create(String name, long bytes) {
        return controller.createVolume(Csi.CreateVolumeRequest.newBuilder().setName(name).addVolumeCapabilities(rwo())
                .setCapacityRange(Csi.CapacityRange.newBuilder().setRequiredBytes(bytes)).build()).getVolume();
    }

    void stage(String id, Path staging) {
        node.nodeStageVolume(Csi.NodeStageVolumeRequest.newBuilder().setVolumeId(id)
                .setStagingTargetPath(staging.toString()).setVolumeCapability(rwo()).build());
    }

    void publish(String id, Path staging, Path target, boolean readOnly) {
        node.nodePublishVolume(Csi.NodePublishVolumeRequest.newBuilder().setVolumeId(id)
                .setStagingTargetPath(staging.toString()).setTargetPath(target.toString()).setReadonly(readOnly)
                .setVolumeCapability(rwo()).build());
    }

    void unpublish(String id, Path target) {
        node.nodeUnpublishVolume(Csi.NodeUnpublishVolumeRequest.newBuilder().setVolumeId(id)
                .setTargetPath(target.toString()).build());
    }

    void unstage(String id, Path staging) {
        node.nodeUnstageVolume(Csi.NodeUnstageVolumeRequest.newBuilder().setVolumeId(id)
                .setStagingTargetPath(staging.toString()).build());
    }

    @Override
    public void close() throws InterruptedException {
        stopProcess();
        nodeService.unstageAll();
        unmountEverythingUnder(dir);
    }

    /**
     * What stopping the node plugin does where its sessions outlive it (a keeper's daemon serves them): the endpoint
     * and the store close, nothing is unstaged.
     */
    void stopProcess() throws InterruptedException {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        clientLoop.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        server.close();
        store.close();
    }

    /** Pods' targets outlive the node service by design; a test removes what it published. */
    static void unmountEverythingUnder(Path dir) {
        io.efuse.csi.testing.Mounts.unmountEverythingUnder(dir);
    }
}
