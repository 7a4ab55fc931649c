package io.efuse.csi.csi;

import static io.efuse.csi.csi.CsiTestDriver.mountCap;
import static io.efuse.csi.csi.CsiTestDriver.rwo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import csi.v1.ControllerGrpc;
import csi.v1.Csi;
import csi.v1.Csi.VolumeCapability.AccessMode.Mode;
import io.efuse.csi.sys.LinuxConstants;
import io.efuse.csi.sys.MountTable;
import io.efuse.csi.sys.Syscalls;
import io.efuse.csi.testing.RequiresFuse;
import io.efuse.csi.volume.Backend;
import io.efuse.csi.volume.BindMounter;
import io.efuse.csi.volume.MountSpec;
import io.efuse.csi.volume.MountedVolume;
import io.efuse.csi.volume.Snapshot;
import io.efuse.csi.volume.Volume;
import io.efuse.csi.volume.VolumeException;
import io.efuse.csi.volume.VolumeIds;
import io.efuse.csi.volume.VolumeMounter;
import io.efuse.csi.volume.VolumeSpec;
import io.efuse.csi.volume.VolumeStore;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/**
 * The driver over its real unix socket, called as kubelet and the provisioner, resizer and snapshotter sidecars
 * call it: every RPC, the codes the spec names for bad input, each call repeated (idempotency) and concurrent calls
 * on one volume. Volumes are staged with bind mounts here; {@link EfuseLifecycleTest} stages real eFuse sessions.
 */
@RequiresFuse
class CsiConformanceTest {
    @TempDir
    Path tmp;

    private CsiTestDriver d;
    private final GateMounter mounter = new GateMounter();

    @BeforeEach
    void start() throws IOException {
        d = new CsiTestDriver(tmp, mounter, tmp.resolve("backing"));
    }

    @AfterEach
    void stop() throws InterruptedException {
        if (d != null) {
            d.close();
        }
    }

    static void assertCode(Status.Code code, Executable call) {
        assertCode(code, call, "");
    }

    static void assertCode(Status.Code code, Executable call, String why) {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call, why);
        assertEquals(code, e.getStatus().getCode(), () -> why + (why.isEmpty() ? "" : ": ") + "status was "
                + e.getStatus());
    }

    // ---- Identity ----

    @Test
    void identityNamesThePluginAndAdvertisesControllerGroupControllerTopologyAndOnlineExpansion() {
        var info = d.identity.getPluginInfo(Csi.GetPluginInfoRequest.getDefaultInstance());
        assertEquals("efuse.csi.io", info.getName());
        assertFalse(info.getVendorVersion().isEmpty());
        var caps = d.identity.getPluginCapabilities(Csi.GetPluginCapabilitiesRequest.getDefaultInstance());
        Set<String> names = new HashSet<>();
        caps.getCapabilitiesList().forEach(c -> names.add(c.hasService() ? c.getService().getType().name()
                : "EXPANSION_" + c.getVolumeExpansion().getType().name()));
        assertEquals(Set.of("CONTROLLER_SERVICE", "GROUP_CONTROLLER_SERVICE", "VOLUME_ACCESSIBILITY_CONSTRAINTS",
                "EXPANSION_ONLINE"), names);
        assertTrue(d.identity.probe(Csi.ProbeRequest.getDefaultInstance()).getReady().getValue());
    }

    // ---- CreateVolume / DeleteVolume ----

    @Test
    void createVolumeIsIdempotentByNameAndReportsTopology() {
        Csi.Volume a = d.create("pvc-1", 10 << 20);
        Csi.Volume b = d.create("pvc-1", 10 << 20);
        assertEquals(a, b);
        assertEquals(10 << 20, a.getCapacityBytes());
        assertEquals(CsiTestDriver.NODE, a.getAccessibleTopology(0).getSegmentsOrThrow(Capabilities.TOPOLOGY_NODE_KEY));
        assertTrue(Files.isDirectory(tmp.resolve("backing/volumes").resolve(a.getVolumeId())));
    }

    @Test
    void createVolumeWithTheSameNameButAnIncompatibleSizeIsAlreadyExists() {
        d.create("pvc-1", 10 << 20);
        assertCode(Status.Code.ALREADY_EXISTS, () -> d.create("pvc-1", 20 << 20));
    }

    @Test
    void createVolumeRejectsBadRequestsWithInvalidArgument() {
        var ok = Csi.CreateVolumeRequest.newBuilder().setName("x").addVolumeCapabilities(rwo());
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.controller.createVolume(ok.clone().setName("").build()));
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.controller.createVolume(ok.clone()
                .clearVolumeCapabilities().build()));
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.controller.createVolume(ok.clone().clearVolumeCapabilities()
                .addVolumeCapabilities(Csi.VolumeCapability.newBuilder().setBlock(
                        Csi.VolumeCapability.BlockVolume.getDefaultInstance()).setAccessMode(
                        rwo().getAccessMode())).build()));
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.controller.createVolume(ok.clone().setCapacityRange(
                Csi.CapacityRange.newBuilder().setRequiredBytes(2000).setLimitBytes(1000)).build()));
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.controller.createVolume(ok.clone()
                .putParameters("sise", "10").build()));
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.controller.createVolume(ok.clone()
                .putParameters("tier", "warp").build()));
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.controller.createVolume(ok.clone().clearVolumeCapabilities()
                .addVolumeCapabilities(mountCap(Mode.MULTI_NODE_MULTI_WRITER)).build()));
        assertTrue(d.store.volumes().isEmpty(), "a refused request leaves no volume behind");
    }

    @Test
    void sharedBackendAcceptsMultiNodeAccessAndHasNoTopology() {
        var v = d.controller.createVolume(Csi.CreateVolumeRequest.newBuilder().setName("rwx")
                .putParameters("backend", "shared").addVolumeCapabilities(mountCap(Mode.MULTI_NODE_MULTI_WRITER))
                .build()).getVolume();
        assertEquals(0, v.getAccessibleTopologyCount());
        assertTrue(Files.isDirectory(tmp.resolve("shared/volumes").resolve(v.getVolumeId())));
    }

    @Test
    void createVolumeOutsideThisNodesTopologyIsResourceExhausted() {
        assertCode(Status.Code.RESOURCE_EXHAUSTED, () -> d.controller.createVolume(Csi.CreateVolumeRequest
                .newBuilder().setName("elsewhere").addVolumeCapabilities(rwo())
                .setAccessibilityRequirements(Csi.TopologyRequirement.newBuilder().addRequisite(Csi.Topology
                        .newBuilder().putSegments(Capabilities.TOPOLOGY_NODE_KEY, "node-b"))).build()));
        var ok = d.controller.createVolume(Csi.CreateVolumeRequest.newBuilder().setName("here")
                .addVolumeCapabilities(rwo()).setAccessibilityRequirements(Csi.TopologyRequirement.newBuilder()
                        .addRequisite(Csi.Topology.newBuilder().putSegments(Capabilities.TOPOLOGY_NODE_KEY, "node-b"))
                        .addRequisite(Csi.Topology.newBuilder().putSegments(Capabilities.TOPOLOGY_NODE_KEY,
                                CsiTestDriver.NODE))).build());
        assertEquals(CsiTestDriver.NODE, ok.getVolume().getVolumeContextOrThrow("node"));
    }

    @Test
    void createVolumeFromSourcesThatDoNotExistIsNotFound() {
        for (String id : List.of("s-00000000000000000000000000000000", "../../etc")) {
            assertCode(Status.Code.NOT_FOUND, () -> d.controller.createVolume(Csi.CreateVolumeRequest.newBuilder()
                    .setName("from-" + id.length()).addVolumeCapabilities(rwo()).setVolumeContentSource(
                            Csi.VolumeContentSource.newBuilder().setSnapshot(Csi.VolumeContentSource.SnapshotSource
                                    .newBuilder().setSnapshotId(id))).build()));
        }
        assertCode(Status.Code.NOT_FOUND, () -> d.controller.createVolume(Csi.CreateVolumeRequest.newBuilder()
                .setName("clone").addVolumeCapabilities(rwo()).setVolumeContentSource(Csi.VolumeContentSource
                        .newBuilder().setVolume(Csi.VolumeContentSource.VolumeSource.newBuilder()
                                .setVolumeId("v-00000000000000000000000000000000"))).build()));
    }

    @Test
    void createVolumeFromASourceItCannotUseIsInvalidArgument() {
        var req = Csi.CreateVolumeRequest.newBuilder().setName("from-nothing").addVolumeCapabilities(rwo());
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.controller.createVolume(req.clone().setVolumeContentSource(
                Csi.VolumeContentSource.getDefaultInstance()).build()), "a source that names nothing");
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.controller.createVolume(req.clone().setVolumeContentSource(
                Csi.VolumeContentSource.newBuilder().setSnapshot(Csi.VolumeContentSource.SnapshotSource
                        .getDefaultInstance())).build()), "a snapshot source without an id");
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.controller.createVolume(req.clone().setVolumeContentSource(
                Csi.VolumeContentSource.newBuilder().setVolume(Csi.VolumeContentSource.VolumeSource
                        .getDefaultInstance())).build()), "a volume source without an id");
        assertTrue(d.store.volumes().isEmpty());
    }

    @Test
    void aCloneSmallerThanItsSourceIsOutOfRange() {
        Csi.Volume src = d.create("big", 20 << 20);
        assertCode(Status.Code.OUT_OF_RANGE, () -> d.controller.createVolume(Csi.CreateVolumeRequest.newBuilder()
                .setName("small-clone").addVolumeCapabilities(rwo()).setCapacityRange(Csi.CapacityRange.newBuilder()
                        .setRequiredBytes(10 << 20)).setVolumeContentSource(Csi.VolumeContentSource.newBuilder()
                        .setVolume(Csi.VolumeContentSource.VolumeSource.newBuilder().setVolumeId(src.getVolumeId())))
                .build()));
        assertEquals(1, d.store.volumes().size(), "the refused clone left nothing behind");
    }

    @Test
    void deleteVolumeIsIdempotentAndRemovesTheData() {
        Csi.Volume v = d.create("gone", 1 << 20);
        var req = Csi.DeleteVolumeRequest.newBuilder().setVolumeId(v.getVolumeId()).build();
        d.controller.deleteVolume(req);
        d.controller.deleteVolume(req);
        assertFalse(Files.exists(tmp.resolve("backing/volumes").resolve(v.getVolumeId())));
        d.controller.deleteVolume(Csi.DeleteVolumeRequest.newBuilder().setVolumeId("no-such-volume").build());
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.controller.deleteVolume(
                Csi.DeleteVolumeRequest.getDefaultInstance()));
    }

    // ---- Validate / List / Capacity / Get / Modify ----

    @Test
    void validateVolumeCapabilitiesConfirmsWhatTheVolumeSupports() {
        Csi.Volume v = d.create("val", 1 << 20);
        var req = Csi.ValidateVolumeCapabilitiesRequest.newBuilder().setVolumeId(v.getVolumeId())
                .addVolumeCapabilities(rwo()).build();
        assertTrue(d.controller.validateVolumeCapabilities(req).hasConfirmed());
        var multi = d.controller.validateVolumeCapabilities(req.toBuilder().clearVolumeCapabilities()
                .addVolumeCapabilities(mountCap(Mode.MULTI_NODE_MULTI_WRITER)).build());
        assertFalse(multi.hasConfirmed());
        assertFalse(multi.getMessage().isEmpty());
        assertCode(Status.Code.NOT_FOUND, () -> d.controller.validateVolumeCapabilities(req.toBuilder()
                .setVolumeId("v-11111111111111111111111111111111").build()));
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.controller.validateVolumeCapabilities(req.toBuilder()
                .clearVolumeCapabilities().build()));
    }

    @Test
    void listVolumesPagesWithTokensAndSurvivesDeletionBetweenPages() {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            ids.add(d.create("list-" + i, 1 << 20).getVolumeId());
        }
        List<String> seen = new ArrayList<>();
        var page = d.controller.listVolumes(Csi.ListVolumesRequest.newBuilder().setMaxEntries(2).build());
        assertEquals(2, page.getEntriesCount());
        page.getEntriesList().forEach(e -> seen.add(e.getVolume().getVolumeId()));
        d.controller.deleteVolume(Csi.DeleteVolumeRequest.newBuilder().setVolumeId(seen.get(1)).build());
        while (!page.getNextToken().isEmpty()) {
            page = d.controller.listVolumes(Csi.ListVolumesRequest.newBuilder().setMaxEntries(2)
                    .setStartingToken(page.getNextToken()).build());
            page.getEntriesList().forEach(e -> seen.add(e.getVolume().getVolumeId()));
        }
        assertEquals(new HashSet<>(ids), new HashSet<>(seen));
        assertEquals(5, seen.size(), "no volume listed twice");
        assertCode(Status.Code.ABORTED, () -> d.controller.listVolumes(Csi.ListVolumesRequest.newBuilder()
                .setStartingToken("not-a-token").build()));
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.controller.listVolumes(Csi.ListVolumesRequest.newBuilder()
                .setMaxEntries(-1).build()));
    }

    @Test
    void getCapacityReportsTheBackingRootsFreeSpacePerNode() {
        long here = d.controller.getCapacity(Csi.GetCapacityRequest.newBuilder().setAccessibleTopology(
                Csi.Topology.newBuilder().putSegments(Capabilities.TOPOLOGY_NODE_KEY, CsiTestDriver.NODE)).build())
                .getAvailableCapacity();
        assertTrue(here > 0);
        long elsewhere = d.controller.getCapacity(Csi.GetCapacityRequest.newBuilder().setAccessibleTopology(
                Csi.Topology.newBuilder().putSegments(Capabilities.TOPOLOGY_NODE_KEY, "node-b")).build())
                .getAvailableCapacity();
        assertEquals(0, elsewhere);
        var caps = d.controller.controllerGetCapabilities(Csi.ControllerGetCapabilitiesRequest.getDefaultInstance());
        assertEquals(Capabilities.CONTROLLER.size(), caps.getCapabilitiesCount());
    }

    @Test
    void controllerGetVolumeAndModifyVolume() {
        Csi.Volume v = d.create("mod", 1 << 20);
        var got = d.controller.controllerGetVolume(Csi.ControllerGetVolumeRequest.newBuilder()
                .setVolumeId(v.getVolumeId()).build());
        assertEquals(v.getVolumeId(), got.getVolume().getVolumeId());
        assertFalse(got.getStatus().getVolumeCondition().getAbnormal());
        var mod = Csi.ControllerModifyVolumeRequest.newBuilder().setVolumeId(v.getVolumeId())
                .putMutableParams("tier", "classic").build();
        d.controller.controllerModifyVolume(mod);
        d.controller.controllerModifyVolume(mod);
        assertEquals("classic", d.store.volume(v.getVolumeId()).orElseThrow().mutableParameters().get("tier"));
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.controller.controllerModifyVolume(mod.toBuilder()
                .putMutableParams("backend", "shared").build()));
        assertCode(Status.Code.NOT_FOUND, () -> d.controller.controllerModifyVolume(mod.toBuilder()
                .setVolumeId("v-22222222222222222222222222222222").build()));
        assertCode(Status.Code.NOT_FOUND, () -> d.controller.controllerGetVolume(Csi.ControllerGetVolumeRequest
                .newBuilder().setVolumeId("v-22222222222222222222222222222222").build()));
        assertCode(Status.Code.UNIMPLEMENTED, () -> d.controller.controllerPublishVolume(
                Csi.ControllerPublishVolumeRequest.newBuilder().setVolumeId(v.getVolumeId()).setNodeId("n").build()));
    }

    // ---- Expansion ----

    @Test
    void controllerExpandVolumeGrowsOnceAndRefusesBadRanges() {
        Csi.Volume v = d.create("grow", 1 << 20);
        var req = Csi.ControllerExpandVolumeRequest.newBuilder().setVolumeId(v.getVolumeId())
                .setCapacityRange(Csi.CapacityRange.newBuilder().setRequiredBytes(4 << 20)).build();
        var r1 = d.controller.controllerExpandVolume(req);
        var r2 = d.controller.controllerExpandVolume(req);
        assertEquals(4 << 20, r1.getCapacityBytes());
        assertEquals(r1, r2);
        assertTrue(r1.getNodeExpansionRequired());
        assertCode(Status.Code.OUT_OF_RANGE, () -> d.controller.controllerExpandVolume(req.toBuilder()
                .setCapacityRange(Csi.CapacityRange.newBuilder().setRequiredBytes(1 << 20).setLimitBytes(2 << 20))
                .build()));
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.controller.controllerExpandVolume(req.toBuilder()
                .clearCapacityRange().build()));
        assertCode(Status.Code.NOT_FOUND, () -> d.controller.controllerExpandVolume(req.toBuilder()
                .setVolumeId("v-33333333333333333333333333333333").build()));
        // Exceeds capabilities: INVALID_ARGUMENT.
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.controller.controllerExpandVolume(req.toBuilder()
                .setVolumeCapability(mountCap(Mode.MULTI_NODE_MULTI_WRITER)).build()));
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.controller.controllerExpandVolume(req.toBuilder()
                .setVolumeCapability(Csi.VolumeCapability.newBuilder().setBlock(Csi.VolumeCapability.BlockVolume
                        .getDefaultInstance()).setAccessMode(rwo().getAccessMode())).build()));
        assertEquals(4 << 20, d.controller.controllerExpandVolume(req.toBuilder().setVolumeCapability(rwo()).build())
                .getCapacityBytes());
    }

    // ---- Snapshots ----

    @Test
    void snapshotsAreIdempotentListableAndRestorable() throws IOException {
        Csi.Volume v = d.create("snapsrc", 1 << 20);
        Path data = tmp.resolve("backing/volumes").resolve(v.getVolumeId());
        Files.writeString(data.resolve("hello.txt"), "snapshot me");
        var req = Csi.CreateSnapshotRequest.newBuilder().setName("snap-1").setSourceVolumeId(v.getVolumeId()).build();
        Csi.Snapshot s1 = d.controller.createSnapshot(req).getSnapshot();
        Csi.Snapshot s2 = d.controller.createSnapshot(req).getSnapshot();
        assertEquals(s1, s2);
        assertTrue(s1.getReadyToUse());
        Files.writeString(data.resolve("hello.txt"), "changed after");

        assertCode(Status.Code.ALREADY_EXISTS, () -> d.controller.createSnapshot(req.toBuilder()
                .setSourceVolumeId(d.create("other", 1 << 20).getVolumeId()).build()));
        assertCode(Status.Code.NOT_FOUND, () -> d.controller.createSnapshot(req.toBuilder().setName("snap-2")
                .setSourceVolumeId("v-44444444444444444444444444444444").build()));
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.controller.createSnapshot(req.toBuilder().setName("")
                .build()));

        var byId = d.controller.listSnapshots(Csi.ListSnapshotsRequest.newBuilder()
                .setSnapshotId(s1.getSnapshotId()).build());
        assertEquals(1, byId.getEntriesCount());
        var bySource = d.controller.listSnapshots(Csi.ListSnapshotsRequest.newBuilder()
                .setSourceVolumeId(v.getVolumeId()).build());
        assertEquals(1, bySource.getEntriesCount());
        assertEquals(0, d.controller.listSnapshots(Csi.ListSnapshotsRequest.newBuilder()
                .setSnapshotId("s-55555555555555555555555555555555").build()).getEntriesCount());
        assertCode(Status.Code.ABORTED, () -> d.controller.listSnapshots(Csi.ListSnapshotsRequest.newBuilder()
                .setStartingToken("bogus").build()));
        assertEquals(s1, d.controller.getSnapshot(Csi.GetSnapshotRequest.newBuilder()
                .setSnapshotId(s1.getSnapshotId()).build()).getSnapshot());
        for (String unknown : List.of("s-66666666666666666666666666666666", "../../etc", v.getVolumeId())) {
            assertCode(Status.Code.NOT_FOUND, () -> d.controller.getSnapshot(Csi.GetSnapshotRequest.newBuilder()
                    .setSnapshotId(unknown).build()));
        }
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.controller.getSnapshot(
                Csi.GetSnapshotRequest.getDefaultInstance()));

        var restoreReq = Csi.CreateVolumeRequest.newBuilder().setName("restored").addVolumeCapabilities(rwo())
                .setCapacityRange(Csi.CapacityRange.newBuilder().setRequiredBytes(1 << 20))
                .setVolumeContentSource(Csi.VolumeContentSource.newBuilder().setSnapshot(
                        Csi.VolumeContentSource.SnapshotSource.newBuilder().setSnapshotId(s1.getSnapshotId())))
                .build();
        Csi.Volume restored = d.controller.createVolume(restoreReq).getVolume();
        assertEquals(restored, d.controller.createVolume(restoreReq).getVolume());
        assertEquals(s1.getSnapshotId(), restored.getContentSource().getSnapshot().getSnapshotId());
        assertEquals("snapshot me", Files.readString(tmp.resolve("backing/volumes").resolve(restored.getVolumeId())
                .resolve("hello.txt")));

        var del = Csi.DeleteSnapshotRequest.newBuilder().setSnapshotId(s1.getSnapshotId()).build();
        d.controller.deleteSnapshot(del);
        d.controller.deleteSnapshot(del);
        assertFalse(Files.exists(tmp.resolve("backing/snapshots").resolve(s1.getSnapshotId())));
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.controller.deleteSnapshot(
                Csi.DeleteSnapshotRequest.getDefaultInstance()));
    }

    @Test
    void aSnapshotThatDoesNotFitIsResourceExhaustedAndLeavesNoCopyBehind() throws Exception {
        d.close();
        d = null;
        Path small = Files.createDirectories(tmp.resolve("small"));
        Syscalls.mount("tmpfs", small, "tmpfs", 0, "size=4m");
        try {
            d = new CsiTestDriver(Files.createDirectories(tmp.resolve("driver")), mounter, small);
            String id = d.create("full", 1 << 20).getVolumeId();
            Path data = small.resolve("volumes").resolve(id);
            Files.write(data.resolve("big"), new byte[3 << 20]);
            assertCode(Status.Code.RESOURCE_EXHAUSTED, () -> d.controller.createSnapshot(Csi.CreateSnapshotRequest
                    .newBuilder().setName("too-big").setSourceVolumeId(id).build()));
            assertEquals(0, d.controller.listSnapshots(Csi.ListSnapshotsRequest.getDefaultInstance())
                    .getEntriesCount());
            Files.write(data.resolve("more"), new byte[512 << 10]); // the half-made copy gave its space back
        } finally {
            if (d != null) {
                d.close();
                d = null;
            }
            Syscalls.umount(small, LinuxConstants.MNT_DETACH);
        }
    }

    // ---- Node ----

    @Test
    void nodeInfoAndCapabilities() {
        var info = d.node.nodeGetInfo(Csi.NodeGetInfoRequest.getDefaultInstance());
        assertEquals(CsiTestDriver.NODE, info.getNodeId());
        assertEquals(CsiTestDriver.NODE, info.getAccessibleTopology().getSegmentsOrThrow(
                Capabilities.TOPOLOGY_NODE_KEY));
        var caps = d.node.nodeGetCapabilities(Csi.NodeGetCapabilitiesRequest.getDefaultInstance());
        assertEquals(Capabilities.NODE.size(), caps.getCapabilitiesCount());
    }

    @Test
    void stagePublishUnpublishUnstageEachTwice() throws IOException {
        Csi.Volume v = d.create("life", 8 << 20);
        String id = v.getVolumeId();
        Path staging = tmp.resolve("kubelet/staging/" + id);
        Path target = tmp.resolve("kubelet/pods/p1/volumes/" + id + "/mount");
        d.stage(id, staging);
        d.stage(id, staging);
        assertEquals(1, mounter.inner.mounts.get(), "the second stage reused the first session");
        d.publish(id, staging, target, false);
        d.publish(id, staging, target, false);
        Files.writeString(target.resolve("file"), "through the pod's target");
        assertEquals("through the pod's target", Files.readString(tmp.resolve("backing/volumes").resolve(id)
                .resolve("file")));

        var stats = d.node.nodeGetVolumeStats(Csi.NodeGetVolumeStatsRequest.newBuilder().setVolumeId(id)
                .setVolumePath(target.toString()).build());
        assertEquals(2, stats.getUsageCount());
        assertEquals(8 << 20, stats.getUsage(0).getTotal());
        assertTrue(stats.getUsage(0).getUsed() >= "through the pod's target".length());
        assertTrue(stats.getUsage(1).getUsed() >= 2, "the root and the file count as inodes");
        assertFalse(stats.getVolumeCondition().getAbnormal());

        d.unpublish(id, target);
        d.unpublish(id, target);
        assertFalse(Files.exists(target), "unpublish removes the target it was given");
        d.unstage(id, staging);
        d.unstage(id, staging);
        assertFalse(MountTable.isMountPoint(staging));
        d.stage(id, staging);
        assertEquals(2, mounter.inner.mounts.get());
    }

    @Test
    void readOnlyPublishIsReadOnlyAndAConflictingRepublishIsAlreadyExists() throws IOException {
        String id = d.create("ro", 1 << 20).getVolumeId();
        Path staging = tmp.resolve("st");
        Path target = tmp.resolve("ro-target");
        d.stage(id, staging);
        d.publish(id, staging, target, true);
        assertThrows(FileSystemException.class, () -> Files.writeString(target.resolve("x"), "no"));
        assertTrue(MountTable.find(target).orElseThrow().options().startsWith("ro"));
        assertCode(Status.Code.ALREADY_EXISTS, () -> d.publish(id, staging, target, false));
        Path rw = tmp.resolve("rw-target");
        d.publish(id, staging, rw, false);
        Files.writeString(rw.resolve("x"), "yes");
    }

    @Test
    void mountFlagsAreAppliedAndUnknownOnesRefused() throws IOException {
        String id = d.create("flags", 1 << 20).getVolumeId();
        Path staging = tmp.resolve("st");
        d.stage(id, staging);
        var cap = Csi.VolumeCapability.newBuilder().setAccessMode(rwo().getAccessMode()).setMount(
                Csi.VolumeCapability.MountVolume.newBuilder().addMountFlags("noexec").addMountFlags("nosuid"));
        Path target = tmp.resolve("t");
        var req = Csi.NodePublishVolumeRequest.newBuilder().setVolumeId(id).setStagingTargetPath(staging.toString())
                .setTargetPath(target.toString()).setVolumeCapability(cap).build();
        d.node.nodePublishVolume(req);
        String opts = MountTable.find(target).orElseThrow().options();
        assertTrue(opts.contains("noexec") && opts.contains("nosuid"), opts);
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.node.nodePublishVolume(req.toBuilder().setTargetPath(
                tmp.resolve("t2").toString()).setVolumeCapability(cap.clone().setMount(cap.getMount().toBuilder()
                .addMountFlags("exotic"))).build()));
    }

    @Test
    void volumeMountGroupHandsTheVolumeToTheGroup() throws IOException {
        String id = d.create("fsgroup", 1 << 20).getVolumeId();
        Path data = tmp.resolve("backing/volumes").resolve(id);
        Files.writeString(data.resolve("old"), "x");
        d.node.nodeStageVolume(Csi.NodeStageVolumeRequest.newBuilder().setVolumeId(id)
                .setStagingTargetPath(tmp.resolve("st").toString()).setVolumeCapability(rwo().toBuilder().setMount(
                        Csi.VolumeCapability.MountVolume.newBuilder().setVolumeMountGroup("4321"))).build());
        assertEquals(4321, Files.getAttribute(data, "unix:gid", LinkOption.NOFOLLOW_LINKS));
        assertEquals(02070, (Integer) Files.getAttribute(data, "unix:mode", LinkOption.NOFOLLOW_LINKS) & 02070);
        assertEquals(4321, Files.getAttribute(data.resolve("old"), "unix:gid", LinkOption.NOFOLLOW_LINKS));
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.node.nodeStageVolume(Csi.NodeStageVolumeRequest.newBuilder()
                .setVolumeId(id).setStagingTargetPath(tmp.resolve("st2").toString()).setVolumeCapability(rwo()
                        .toBuilder().setMount(Csi.VolumeCapability.MountVolume.newBuilder()
                                .setVolumeMountGroup("staff"))).build()));
    }

    @Test
    void nodeCallsRefuseBadInputWithTheSpecsCodes() {
        String id = d.create("bad", 1 << 20).getVolumeId();
        String staging = tmp.resolve("st").toString();
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.node.nodeStageVolume(Csi.NodeStageVolumeRequest.newBuilder()
                .setStagingTargetPath(staging).setVolumeCapability(rwo()).build()));
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.node.nodeStageVolume(Csi.NodeStageVolumeRequest.newBuilder()
                .setVolumeId(id).setVolumeCapability(rwo()).build()));
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.node.nodeStageVolume(Csi.NodeStageVolumeRequest.newBuilder()
                .setVolumeId(id).setStagingTargetPath(staging).build()));
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.node.nodeStageVolume(Csi.NodeStageVolumeRequest.newBuilder()
                .setVolumeId(id).setStagingTargetPath("relative/path").setVolumeCapability(rwo()).build()));
        assertCode(Status.Code.NOT_FOUND, () -> d.node.nodeStageVolume(Csi.NodeStageVolumeRequest.newBuilder()
                .setVolumeId("v-66666666666666666666666666666666").setStagingTargetPath(staging)
                .setVolumeCapability(rwo()).build()));
        assertCode(Status.Code.NOT_FOUND, () -> d.node.nodeStageVolume(Csi.NodeStageVolumeRequest.newBuilder()
                .setVolumeId("../../../etc").setStagingTargetPath(staging).setVolumeCapability(rwo()).build()));
        assertCode(Status.Code.FAILED_PRECONDITION, () -> d.node.nodeStageVolume(Csi.NodeStageVolumeRequest
                .newBuilder().setVolumeId(id).setStagingTargetPath(staging)
                .setVolumeCapability(mountCap(Mode.MULTI_NODE_MULTI_WRITER)).build()));
        String target = tmp.resolve("t").toString();
        assertCode(Status.Code.FAILED_PRECONDITION, () -> d.publish(id, Path.of(staging), Path.of(target), false));
        assertCode(Status.Code.FAILED_PRECONDITION, () -> d.node.nodePublishVolume(Csi.NodePublishVolumeRequest
                .newBuilder().setVolumeId(id).setTargetPath(target).setVolumeCapability(rwo()).build()));
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.node.nodePublishVolume(Csi.NodePublishVolumeRequest
                .newBuilder().setVolumeId(id).setStagingTargetPath(staging).setVolumeCapability(rwo()).build()));
        d.stage(id, Path.of(staging));
        assertCode(Status.Code.FAILED_PRECONDITION, () -> d.stage(id, tmp.resolve("elsewhere")));
        assertCode(Status.Code.ALREADY_EXISTS, () -> d.node.nodeStageVolume(Csi.NodeStageVolumeRequest.newBuilder()
                .setVolumeId(id).setStagingTargetPath(staging)
                .setVolumeCapability(mountCap(Mode.SINGLE_NODE_READER_ONLY)).build()));
        assertCode(Status.Code.NOT_FOUND, () -> d.node.nodeGetVolumeStats(Csi.NodeGetVolumeStatsRequest.newBuilder()
                .setVolumeId(id).setVolumePath(tmp.resolve("nowhere").toString()).build()));
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.node.nodeGetVolumeStats(Csi.NodeGetVolumeStatsRequest
                .newBuilder().setVolumeId(id).build()));
        assertCode(Status.Code.NOT_FOUND, () -> d.node.nodeExpandVolume(Csi.NodeExpandVolumeRequest.newBuilder()
                .setVolumeId("v-77777777777777777777777777777777").setVolumePath(staging).build()));
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.node.nodeUnstageVolume(Csi.NodeUnstageVolumeRequest
                .newBuilder().setVolumeId(id).build()));
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.node.nodeUnpublishVolume(Csi.NodeUnpublishVolumeRequest
                .newBuilder().setTargetPath(target).build()));
    }

    /*
     * The order of checks in each Node RPC: fields that are missing are INVALID_ARGUMENT whatever else is wrong, then
     * an unknown volume is NOT_FOUND before anything about its paths is looked at (csi-sanity sends unknown ids with
     * relative paths and expects NOT_FOUND), then the shape of the paths, then capabilities and state.
     */

    private static final String UNKNOWN = "v-88888888888888888888888888888888";

    @Test
    void nodeStageChecksMissingFieldsThenTheVolumeThenThePathThenCapabilities() {
        String id = d.create("stage-order", 1 << 20).getVolumeId();
        String staging = tmp.resolve("st").toString();
        var ok = Csi.NodeStageVolumeRequest.newBuilder().setVolumeId(id).setStagingTargetPath(staging)
                .setVolumeCapability(rwo()).build();
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.node.nodeStageVolume(ok.toBuilder().clearVolumeId()
                .setStagingTargetPath("relative").build()));
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.node.nodeStageVolume(ok.toBuilder().setVolumeId(UNKNOWN)
                .clearStagingTargetPath().build()));
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.node.nodeStageVolume(ok.toBuilder().setVolumeId(UNKNOWN)
                .clearVolumeCapability().build()));
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.node.nodeStageVolume(ok.toBuilder().setVolumeCapability(
                Csi.VolumeCapability.newBuilder().setMount(Csi.VolumeCapability.MountVolume.getDefaultInstance()))
                .build()));
        assertCode(Status.Code.NOT_FOUND, () -> d.node.nodeStageVolume(ok.toBuilder().setVolumeId(UNKNOWN)
                .setStagingTargetPath("some/path").build()));
        assertCode(Status.Code.NOT_FOUND, () -> d.node.nodeStageVolume(ok.toBuilder().setVolumeId("not-an-id")
                .build()));
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.node.nodeStageVolume(ok.toBuilder()
                .setStagingTargetPath("some/path").build()));
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.node.nodeStageVolume(ok.toBuilder()
                .setStagingTargetPath(staging + "/../st").build()));
        // Exceeds capabilities: FAILED_PRECONDITION (block access, a file system eFuse does not serve).
        assertCode(Status.Code.FAILED_PRECONDITION, () -> d.node.nodeStageVolume(ok.toBuilder().setVolumeCapability(
                Csi.VolumeCapability.newBuilder().setBlock(Csi.VolumeCapability.BlockVolume.getDefaultInstance())
                        .setAccessMode(rwo().getAccessMode())).build()));
        assertCode(Status.Code.FAILED_PRECONDITION, () -> d.node.nodeStageVolume(ok.toBuilder().setVolumeCapability(
                rwo().toBuilder().setMount(Csi.VolumeCapability.MountVolume.newBuilder().setFsType("ext4"))).build()));
        assertFalse(Files.exists(Path.of(staging)), "refused stages make no staging directory");
        d.node.nodeStageVolume(ok);
        assertCode(Status.Code.ALREADY_EXISTS, () -> d.node.nodeStageVolume(ok.toBuilder()
                .setVolumeCapability(mountCap(Mode.SINGLE_NODE_READER_ONLY)).build()));
        assertCode(Status.Code.FAILED_PRECONDITION, () -> d.node.nodeStageVolume(ok.toBuilder()
                .setStagingTargetPath(tmp.resolve("st2").toString()).build()));
    }

    @Test
    void nodeUnstageChecksMissingFieldsThenTheIdThenThePath() {
        String id = d.create("unstage-order", 1 << 20).getVolumeId();
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.node.nodeUnstageVolume(Csi.NodeUnstageVolumeRequest
                .newBuilder().setStagingTargetPath("relative").build()));
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.node.nodeUnstageVolume(Csi.NodeUnstageVolumeRequest
                .newBuilder().setVolumeId("not-an-id").build()));
        assertCode(Status.Code.NOT_FOUND, () -> d.node.nodeUnstageVolume(Csi.NodeUnstageVolumeRequest.newBuilder()
                .setVolumeId("../../etc").setStagingTargetPath(tmp.resolve("st").toString()).build()));
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.node.nodeUnstageVolume(Csi.NodeUnstageVolumeRequest
                .newBuilder().setVolumeId(id).setStagingTargetPath("some/path").build()));
        // Not staged there, or a volume that is gone from the store: OK, so that a CO's cleanup always ends.
        d.unstage(id, tmp.resolve("st"));
        d.unstage(UNKNOWN, tmp.resolve("st"));
    }

    @Test
    void nodePublishChecksMissingFieldsThenTheVolumeThenStagingThenPathsThenCapabilities() {
        String id = d.create("publish-order", 1 << 20).getVolumeId();
        Path staging = tmp.resolve("st");
        String target = tmp.resolve("t").toString();
        var ok = Csi.NodePublishVolumeRequest.newBuilder().setVolumeId(id).setStagingTargetPath(staging.toString())
                .setTargetPath(target).setVolumeCapability(rwo()).build();
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.node.nodePublishVolume(ok.toBuilder().clearVolumeId()
                .build()));
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.node.nodePublishVolume(ok.toBuilder().setVolumeId(UNKNOWN)
                .clearTargetPath().build()));
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.node.nodePublishVolume(ok.toBuilder().setVolumeId(UNKNOWN)
                .clearVolumeCapability().build()));
        assertCode(Status.Code.NOT_FOUND, () -> d.node.nodePublishVolume(ok.toBuilder().setVolumeId(UNKNOWN)
                .clearStagingTargetPath().setTargetPath("some/path").build()));
        assertCode(Status.Code.FAILED_PRECONDITION, () -> d.node.nodePublishVolume(ok.toBuilder()
                .clearStagingTargetPath().build()));
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.node.nodePublishVolume(ok.toBuilder()
                .setTargetPath("some/path").build()));
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.node.nodePublishVolume(ok.toBuilder()
                .setStagingTargetPath("some/staging").build()));
        assertCode(Status.Code.FAILED_PRECONDITION, () -> d.node.nodePublishVolume(ok.toBuilder().setVolumeCapability(
                Csi.VolumeCapability.newBuilder().setBlock(Csi.VolumeCapability.BlockVolume.getDefaultInstance())
                        .setAccessMode(rwo().getAccessMode())).build()));
        assertCode(Status.Code.FAILED_PRECONDITION, () -> d.node.nodePublishVolume(ok), "not staged yet");
        d.stage(id, staging);
        d.node.nodePublishVolume(ok);
        assertCode(Status.Code.ALREADY_EXISTS, () -> d.node.nodePublishVolume(ok.toBuilder().setReadonly(true)
                .build()));
        assertCode(Status.Code.ALREADY_EXISTS, () -> d.node.nodePublishVolume(ok.toBuilder().setVolumeCapability(
                rwo().toBuilder().setMount(Csi.VolumeCapability.MountVolume.newBuilder().addMountFlags("noexec")))
                .build()));
    }

    @Test
    void nodeUnpublishChecksMissingFieldsThenTheIdThenThePath() throws IOException {
        String id = d.create("unpublish-order", 1 << 20).getVolumeId();
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.node.nodeUnpublishVolume(Csi.NodeUnpublishVolumeRequest
                .newBuilder().setTargetPath("relative").build()));
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.node.nodeUnpublishVolume(Csi.NodeUnpublishVolumeRequest
                .newBuilder().setVolumeId("not-an-id").build()));
        // An id that names no volume of this driver leaves the path alone.
        Path foreign = Files.createDirectories(tmp.resolve("foreign"));
        assertCode(Status.Code.NOT_FOUND, () -> d.node.nodeUnpublishVolume(Csi.NodeUnpublishVolumeRequest
                .newBuilder().setVolumeId("not-an-id").setTargetPath(foreign.toString()).build()));
        assertTrue(Files.isDirectory(foreign));
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.node.nodeUnpublishVolume(Csi.NodeUnpublishVolumeRequest
                .newBuilder().setVolumeId(id).setTargetPath("some/path").build()));
        d.unpublish(UNKNOWN, tmp.resolve("never-published"));
    }

    @Test
    void nodeGetVolumeStatsIsNotFoundForUnknownVolumesAndPathsItIsNotServedAt() {
        String id = d.create("stats-order", 1 << 20).getVolumeId();
        Path staging = tmp.resolve("st");
        Path target = tmp.resolve("t");
        var req = Csi.NodeGetVolumeStatsRequest.newBuilder();
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.node.nodeGetVolumeStats(req.clone().setVolumePath("some/path")
                .build()));
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.node.nodeGetVolumeStats(req.clone().setVolumeId(UNKNOWN)
                .build()));
        assertCode(Status.Code.NOT_FOUND, () -> d.node.nodeGetVolumeStats(req.clone().setVolumeId(UNKNOWN)
                .setVolumePath("some/path").build()));
        assertCode(Status.Code.NOT_FOUND, () -> d.node.nodeGetVolumeStats(req.clone().setVolumeId(id)
                .setVolumePath(staging.toString()).build()), "not staged");
        d.stage(id, staging);
        d.publish(id, staging, target, false);
        for (String elsewhere : List.of("some/path", tmp.resolve("elsewhere").toString(), tmp.toString(),
                target + "/..", target + "/sub")) {
            assertCode(Status.Code.NOT_FOUND, () -> d.node.nodeGetVolumeStats(req.clone().setVolumeId(id)
                    .setVolumePath(elsewhere).build()));
        }
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.node.nodeGetVolumeStats(req.clone().setVolumeId(id)
                .setVolumePath(target.toString()).setStagingTargetPath("relative").build()));
        for (Path at : List.of(staging, target)) {
            var stats = d.node.nodeGetVolumeStats(req.clone().setVolumeId(id).setVolumePath(at.toString())
                    .setStagingTargetPath(staging.toString()).build());
            assertEquals(1 << 20, stats.getUsage(0).getTotal());
        }
    }

    @Test
    void nodeExpandVolumeChecksTheVolumeThenCapabilitiesAndRangeThenWhereItIsServed() {
        String id = d.create("expand-order", 1 << 20).getVolumeId();
        Path staging = tmp.resolve("st");
        Path target = tmp.resolve("t");
        var req = Csi.NodeExpandVolumeRequest.newBuilder().setCapacityRange(Csi.CapacityRange.newBuilder()
                .setRequiredBytes(2 << 20));
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.node.nodeExpandVolume(req.clone().setVolumePath("some/path")
                .build()));
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.node.nodeExpandVolume(req.clone().setVolumeId(id).build()));
        assertCode(Status.Code.NOT_FOUND, () -> d.node.nodeExpandVolume(req.clone().setVolumeId(UNKNOWN)
                .setVolumePath("some/path").build()));
        assertCode(Status.Code.NOT_FOUND, () -> d.node.nodeExpandVolume(req.clone().setVolumeId(id)
                .setVolumePath(staging.toString()).build()), "not staged");
        d.stage(id, staging);
        d.publish(id, staging, target, false);
        assertCode(Status.Code.NOT_FOUND, () -> d.node.nodeExpandVolume(req.clone().setVolumeId(id)
                .setVolumePath("some/path").build()));
        assertCode(Status.Code.NOT_FOUND, () -> d.node.nodeExpandVolume(req.clone().setVolumeId(id)
                .setVolumePath(tmp.resolve("elsewhere").toString()).build()));
        // Exceeds capabilities is INVALID_ARGUMENT for this call.
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.node.nodeExpandVolume(req.clone().setVolumeId(id)
                .setVolumePath(target.toString()).setVolumeCapability(Csi.VolumeCapability.newBuilder()
                        .setBlock(Csi.VolumeCapability.BlockVolume.getDefaultInstance())
                        .setAccessMode(rwo().getAccessMode())).build()));
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.node.nodeExpandVolume(req.clone().setVolumeId(id)
                .setVolumePath(target.toString()).setCapacityRange(Csi.CapacityRange.newBuilder()
                        .setRequiredBytes(4 << 20).setLimitBytes(3 << 20)).build()));
        assertCode(Status.Code.OUT_OF_RANGE, () -> d.node.nodeExpandVolume(req.clone().setVolumeId(id)
                .setVolumePath(target.toString()).setCapacityRange(Csi.CapacityRange.newBuilder()
                        .setLimitBytes(1 << 19)).build()), "volumes do not shrink");
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.node.nodeExpandVolume(req.clone().setVolumeId(id)
                .setVolumePath(target.toString()).setStagingTargetPath("relative").build()));
        for (Path at : List.of(target, staging)) {
            assertEquals(2 << 20, d.node.nodeExpandVolume(req.clone().setVolumeId(id).setVolumePath(at.toString())
                    .setVolumeCapability(rwo()).build()).getCapacityBytes());
        }
    }

    @Test
    void nodeExpandVolumeReportsTheNewSizeTwice() {
        String id = d.create("nexp", 1 << 20).getVolumeId();
        Path staging = tmp.resolve("st");
        d.stage(id, staging);
        d.controller.controllerExpandVolume(Csi.ControllerExpandVolumeRequest.newBuilder().setVolumeId(id)
                .setCapacityRange(Csi.CapacityRange.newBuilder().setRequiredBytes(3 << 20)).build());
        var req = Csi.NodeExpandVolumeRequest.newBuilder().setVolumeId(id).setVolumePath(staging.toString())
                .setCapacityRange(Csi.CapacityRange.newBuilder().setRequiredBytes(3 << 20)).build();
        assertEquals(3 << 20, d.node.nodeExpandVolume(req).getCapacityBytes());
        assertEquals(3 << 20, d.node.nodeExpandVolume(req).getCapacityBytes());
        var stats = d.node.nodeGetVolumeStats(Csi.NodeGetVolumeStatsRequest.newBuilder().setVolumeId(id)
                .setVolumePath(staging.toString()).build());
        assertEquals(3 << 20, stats.getUsage(0).getTotal());
    }

    @Test
    void aDeadSessionIsReportedAbnormalAndStagingAgainReplacesIt() {
        String id = d.create("dead", 1 << 20).getVolumeId();
        Path staging = tmp.resolve("st");
        d.stage(id, staging);
        BindMounter.kill(mounter.last);
        var stats = d.node.nodeGetVolumeStats(Csi.NodeGetVolumeStatsRequest.newBuilder().setVolumeId(id)
                .setVolumePath(staging.toString()).build());
        assertTrue(stats.getVolumeCondition().getAbnormal());
        d.stage(id, staging);
        assertEquals(2, mounter.inner.mounts.get(), "a dead session is replaced, not reused");
        assertFalse(d.node.nodeGetVolumeStats(Csi.NodeGetVolumeStatsRequest.newBuilder().setVolumeId(id)
                .setVolumePath(staging.toString()).build()).getVolumeCondition().getAbnormal());
    }

    @Test
    void unpublishAndUnstageCopeWithTargetsThatAreGoneOrNeverMounted() throws IOException {
        String id = d.create("gone", 1 << 20).getVolumeId();
        d.unpublish(id, tmp.resolve("never-existed"));
        d.unstage(id, tmp.resolve("never-staged"));
        Path plain = Files.createDirectories(tmp.resolve("plain-dir"));
        d.unpublish(id, plain);
        assertFalse(Files.exists(plain));
        // a leftover mount from an earlier process that the node service never knew about
        Path staging = tmp.resolve("st");
        d.stage(id, staging);
        Path target = tmp.resolve("t");
        d.publish(id, staging, target, false);
        Path orphan = Files.createDirectories(tmp.resolve("orphan"));
        io.efuse.csi.sys.Syscalls.mount(staging.toString(), orphan, null, io.efuse.csi.sys.LinuxConstants.MS_BIND,
                null);
        d.unpublish(id, orphan);
        assertFalse(MountTable.isMountPoint(orphan));
        d.unpublish(id, target);
        d.unstage(id, staging);
    }

    @Test
    void aSecondCallOnAVolumeWithOneInFlightIsAborted() throws Exception {
        String id = d.create("busy", 1 << 20).getVolumeId();
        Path staging = tmp.resolve("st");
        mounter.hold = new CountDownLatch(1);
        mounter.entered = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            Future<?> first = pool.submit(() -> d.stage(id, staging));
            assertTrue(mounter.entered.await(10, TimeUnit.SECONDS), "the first stage reached the mounter");
            assertCode(Status.Code.ABORTED, () -> d.stage(id, staging));
            assertCode(Status.Code.ABORTED, () -> d.unstage(id, staging));
            mounter.hold.countDown();
            first.get(10, TimeUnit.SECONDS);
            d.stage(id, staging);
        } finally {
            mounter.hold.countDown();
            pool.shutdownNow();
        }
    }

    @Test
    void snapshotCallsOnASnapshotOrVolumeWithOneInFlightAreAborted() throws Exception {
        String id = d.create("snap-busy", 1 << 20).getVolumeId();
        GatedStore gated = new GatedStore(d.store);
        CsiServer server = CsiServer.start("unix://" + tmp.resolve("gated.sock"),
                List.of(new ControllerService(gated, d.nodeService)),
                Duration.ofSeconds(5));
        var loop = new EpollEventLoopGroup(1);
        var channel = NettyChannelBuilder.forAddress(
                        new DomainSocketAddress(server.socket().toString()))
                .channelType(EpollDomainSocketChannel.class)
                .eventLoopGroup(loop).usePlaintext().build();
        ExecutorService pool = Executors.newFixedThreadPool(1);
        try {
            var controller = ControllerGrpc.newBlockingStub(channel);
            var create = Csi.CreateSnapshotRequest.newBuilder().setName("held").setSourceVolumeId(id).build();
            Future<?> first = pool.submit(() -> controller.createSnapshot(create));
            assertTrue(gated.entered.await(10, TimeUnit.SECONDS), "the first CreateSnapshot reached the store");
            assertCode(Status.Code.ABORTED, () -> controller.createSnapshot(create));
            assertCode(Status.Code.ABORTED, () -> controller.createSnapshot(create.toBuilder().setName("other")
                    .build()), "the source volume is busy");
            String snap = VolumeIds.snapshotId("held");
            assertCode(Status.Code.ABORTED, () -> controller.deleteSnapshot(Csi.DeleteSnapshotRequest.newBuilder()
                    .setSnapshotId(snap).build()));
            gated.hold.countDown();
            first.get(10, TimeUnit.SECONDS);
            controller.deleteSnapshot(Csi.DeleteSnapshotRequest.newBuilder().setSnapshotId(snap).build());
        } finally {
            gated.hold.countDown();
            pool.shutdownNow();
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            loop.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
            server.close();
        }
    }

    /** The test's store with CreateSnapshot held inside the store until {@link #hold} opens. */
    static final class GatedStore implements VolumeStore {
        final VolumeStore inner;
        final CountDownLatch entered = new CountDownLatch(1);
        final CountDownLatch hold = new CountDownLatch(1);

        GatedStore(VolumeStore inner) {
            this.inner = inner;
        }

        @Override
        public Snapshot createSnapshot(String name, String source)
                throws VolumeException {
            entered.countDown();
            try {
                if (!hold.await(30, TimeUnit.SECONDS)) {
                    throw new IllegalStateException("test gate never opened");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
            return inner.createSnapshot(name, source);
        }

        @Override
        public Volume create(VolumeSpec spec)
                throws VolumeException {
            return inner.create(spec);
        }

        @Override
        public Optional<Volume> volume(String id) {
            return inner.volume(id);
        }

        @Override
        public List<Volume> volumes() {
            return inner.volumes();
        }

        @Override
        public void delete(String id) throws VolumeException {
            inner.delete(id);
        }

        @Override
        public Volume expand(String id, long bytes, long inodes)
                throws VolumeException {
            return inner.expand(id, bytes, inodes);
        }

        @Override
        public Volume modify(String id, Map<String, String> mutable)
                throws VolumeException {
            return inner.modify(id, mutable);
        }

        @Override
        public Optional<Snapshot> snapshot(String id) {
            return inner.snapshot(id);
        }

        @Override
        public List<Snapshot> snapshots() {
            return inner.snapshots();
        }

        @Override
        public void deleteSnapshot(String id) throws VolumeException {
            inner.deleteSnapshot(id);
        }

        @Override
        public long availableBytes(Backend backend, String node)
                throws VolumeException {
            return inner.availableBytes(backend, node);
        }

        @Override
        public List<String> nodes() {
            return inner.nodes();
        }

        @Override
        public boolean ready() {
            return inner.ready();
        }

        @Override
        public void close() {
            // the inner store belongs to the test's driver
        }
    }

    @Test
    void concurrentControllerCallsOnOneVolumeEndConsistent() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<String>> results = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                results.add(pool.submit(() -> {
                    try {
                        return d.create("racy", 2 << 20).getVolumeId();
                    } catch (StatusRuntimeException e) {
                        assertEquals(Status.Code.ABORTED, e.getStatus().getCode(), e.getStatus().toString());
                        return "aborted";
                    }
                }));
            }
            Set<String> ids = new HashSet<>();
            for (Future<String> f : results) {
                ids.add(f.get(30, TimeUnit.SECONDS));
            }
            ids.remove("aborted");
            assertEquals(1, ids.size(), "every successful call returned the same volume");
            assertEquals(1, d.store.volumes().size());
            assertEquals(d.create("racy", 2 << 20).getVolumeId(), ids.iterator().next());
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void theDriverRestartsOnItsStateAndNothingHalfMadeRemains() throws Exception {
        String id = d.create("durable", 1 << 20).getVolumeId();
        d.close();
        d = new CsiTestDriver(tmp, mounter, tmp.resolve("backing"));
        assertEquals(id, d.create("durable", 1 << 20).getVolumeId());
        assertNotEquals(0, d.controller.listVolumes(Csi.ListVolumesRequest.getDefaultInstance()).getEntriesCount());
    }

    /** Bind mounts that can be held inside mount() to keep an operation in flight. */
    static final class GateMounter implements VolumeMounter {
        final BindMounter inner = new BindMounter();
        volatile CountDownLatch hold;
        volatile CountDownLatch entered;
        volatile MountedVolume last;

        @Override
        public MountedVolume mount(MountSpec spec) throws IOException {
            if (entered != null) {
                entered.countDown();
            }
            if (hold != null) {
                try {
                    if (!hold.await(30, TimeUnit.SECONDS)) {
                        throw new IOException("test gate never opened");
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException(e);
                }
            }
            last = inner.mount(spec);
            return last;
        }

        @Override
        public String describe() {
            return "gated bind mounts";
        }
    }

}
