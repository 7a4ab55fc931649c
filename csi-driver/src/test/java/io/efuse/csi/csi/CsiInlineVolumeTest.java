package io.efuse.csi.csi;

import static io.efuse.csi.csi.CsiConformanceTest.assertCode;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import csi.v1.Csi;
import io.efuse.csi.sys.MountTable;
import io.efuse.csi.testing.RequiresFuse;
import io.efuse.csi.volume.EfuseMounter;
import io.efuse.csi.volume.VolumeIds;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * CSI ephemeral inline volumes over the socket, called as kubelet calls them for a pod's {@code csi:} volume:
 * NodePublishVolume alone makes, stages and publishes a volume held to the size in its volumeAttributes, and
 * NodeUnpublishVolume leaves nothing of it on the node — no mount, no data, no record — even across a restart of the
 * node plugin in between. Real eFuse sessions; the daemon enforces the sizes (no project quotas here).
 */
@RequiresFuse
class CsiInlineVolumeTest {
    private static final int MIB = 1 << 20;
    /** What kubelet makes: "csi-" and the sha256 of the pod's uid and the volume's name. */
    static final String HANDLE = "csi-5e9f8ab7c1d2e3f405162738495a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6";

    @TempDir
    Path tmp;

    private CsiTestDriver d;

    @BeforeEach
    void start() throws IOException {
        d = driver(CsiTestDriver.Inline.ALLOWED);
    }

    @AfterEach
    void stop() throws InterruptedException {
        if (d != null) {
            d.close();
        }
    }

    private CsiTestDriver driver(CsiTestDriver.Inline inline) throws IOException {
        return new CsiTestDriver(tmp, new EfuseMounter(2), tmp.resolve("backing"), null, inline);
    }

    private Path target(String pod) {
        return tmp.resolve("kubelet/pods").resolve(pod).resolve("volumes/kubernetes.io~csi/scratch/mount");
    }

    /** NodePublishVolume as kubelet sends it for an inline volume: no staging path, the pod in the context. */
    static Csi.NodePublishVolumeRequest.Builder kubeletPublish(String handle, Path target,
                                                                      Map<String, String> attributes) {
        Map<String, String> context = new HashMap<>(attributes);
        context.put("csi.storage.k8s.io/ephemeral", "true");
        context.put("csi.storage.k8s.io/pod.name", "app");
        context.put("csi.storage.k8s.io/pod.namespace", "default");
        context.put("csi.storage.k8s.io/pod.uid", "0d6e3b5c-4f4c-4e0e-9a53-2f1f0e6b7a11");
        context.put("csi.storage.k8s.io/serviceAccount.name", "default");
        return Csi.NodePublishVolumeRequest.newBuilder().setVolumeId(handle).setTargetPath(target.toString())
                .setVolumeCapability(CsiTestDriver.rwo()).putAllVolumeContext(context);
    }

    private void publish(String handle, Path target, Map<String, String> attributes) {
        d.node.nodePublishVolume(kubeletPublish(handle, target, attributes).build());
    }

    private void unpublish(String handle, Path target) {
        d.unpublish(handle, target);
    }

    private Path data(String handle) {
        return tmp.resolve("backing/volumes").resolve(VolumeIds.inlineId(handle));
    }

    private Path record(String handle) {
        return tmp.resolve("state/inline").resolve(VolumeIds.inlineId(handle) + ".json");
    }

    private Path staging(String handle) {
        return tmp.resolve("state/inline-staging").resolve(VolumeIds.inlineId(handle));
    }

    private List<String> mountsUnderTmp() throws IOException {
        List<String> out = new ArrayList<>();
        for (MountTable.Entry e : MountTable.read()) {
            if (Path.of(e.mountPoint()).startsWith(tmp)) {
                out.add(e.mountPoint());
            }
        }
        return out;
    }

    /** Nothing of the volume is left: no mount, no target, no staging directory, no data, no record. */
    private void assertGone(String handle, Path target) throws IOException {
        assertEquals(List.of(), mountsUnderTmp(), "no mount is left");
        assertFalse(Files.exists(target, LinkOption.NOFOLLOW_LINKS), "the target is removed");
        assertFalse(Files.exists(staging(handle), LinkOption.NOFOLLOW_LINKS), "the staging directory is removed");
        assertFalse(Files.exists(data(handle), LinkOption.NOFOLLOW_LINKS), "the data is deleted");
        assertFalse(Files.exists(record(handle), LinkOption.NOFOLLOW_LINKS), "the record is removed");
        try (var left = Files.list(tmp.resolve("backing/volumes"))) {
            assertEquals(List.of(), left.toList(), "no volume directory is left");
        }
    }

    @Test
    void publishMakesAVolumeOfTheAskedSizeAndUnpublishLeavesNothingOfIt() throws IOException {
        Path target = target("p1");
        publish(HANDLE, target, Map.of("size", "8Mi", "tier", "classic"));

        assertEquals(8 * MIB, Files.getFileStore(target).getTotalSpace(), "df in the pod shows the size asked");
        Files.write(target.resolve("a"), new byte[MIB]);
        IOException full = assertThrows(IOException.class, () -> Files.write(target.resolve("b"), new byte[8 * MIB]));
        assertTrue(String.valueOf(full.getMessage()).contains("quota")
                || String.valueOf(full.getMessage()).contains("No space"), "a write past the size fails: " + full);
        Files.delete(target.resolve("b"));
        assertEquals(MIB, Files.size(data(HANDLE).resolve("a")), "the data lives in the node's backing root");
        assertTrue(Files.isRegularFile(record(HANDLE)), "the node records the volume as inline");
        assertTrue(MountTable.isMountPoint(staging(HANDLE)), "its session is mounted at the node's own staging path");

        var stats = d.node.nodeGetVolumeStats(Csi.NodeGetVolumeStatsRequest.newBuilder().setVolumeId(HANDLE)
                .setVolumePath(target.toString()).build());
        assertEquals(8 * MIB, stats.getUsage(0).getTotal());
        assertTrue(stats.getUsage(0).getUsed() >= MIB, stats.toString());
        assertFalse(stats.getVolumeCondition().getAbnormal(), stats.getVolumeCondition().getMessage());
        assertTrue(stats.getVolumeCondition().getMessage().contains("tier classic"), stats.toString());
        assertCode(Status.Code.FAILED_PRECONDITION, () -> d.node.nodeExpandVolume(Csi.NodeExpandVolumeRequest
                .newBuilder().setVolumeId(HANDLE).setVolumePath(target.toString()).setCapacityRange(
                        Csi.CapacityRange.newBuilder().setRequiredBytes(16 * MIB)).build()), "inline volumes keep their size");

        unpublish(HANDLE, target);
        assertGone(HANDLE, target);
        unpublish(HANDLE, target); // kubelet may repeat a call it is unsure of
        assertGone(HANDLE, target);
    }

    @Test
    void aRepeatedPublishIsTheSameVolumeAndAnIncompatibleOneIsRefused() throws Exception {
        Path target = target("p1");
        Map<String, String> attributes = Map.of("size", "16Mi", "inodes", "5000", "backend", "local");
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            // kubelet's retries of a call it gave up waiting for may overlap the first: those are ABORTED while it
            // runs, and retried, as kubelet does
            List<Future<?>> calls = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                calls.add(pool.submit(() -> {
                    while (true) {
                        try {
                            publish(HANDLE, target, attributes);
                            return null;
                        } catch (StatusRuntimeException e) {
                            if (e.getStatus().getCode() != Status.Code.ABORTED) {
                                throw e;
                            }
                            Thread.sleep(10); // a retry, as kubelet's backoff would, only shorter
                        }
                    }
                }));
            }
            for (Future<?> f : calls) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
        Files.writeString(target.resolve("kept"), "written once");
        String mount = MountTable.find(staging(HANDLE)).orElseThrow().toString();
        publish(HANDLE, target, Map.of("size", "16Mi", "inodes", "5000")); // backend local is the only backend
        assertEquals(mount, MountTable.find(staging(HANDLE)).orElseThrow().toString(), "the same session");
        assertEquals("written once", Files.readString(target.resolve("kept")));
        assertEquals(1, MountTable.sameTreeAs(staging(HANDLE)).size(), "one target");

        assertCode(Status.Code.ALREADY_EXISTS, () -> publish(HANDLE, target, Map.of("size", "32Mi", "inodes", "5000")),
                "the same handle with another size");
        assertCode(Status.Code.FAILED_PRECONDITION, () -> publish(HANDLE, target("p2"), attributes),
                "an inline volume is its pod's alone");
        assertFalse(Files.exists(target("p2")));
        assertEquals("written once", Files.readString(target.resolve("kept")), "the refusals changed nothing");

        unpublish(HANDLE, target);
        assertGone(HANDLE, target);
    }

    @Test
    void badOrMissingAttributesAreInvalidArgumentAndLeaveNothing() throws IOException {
        Path target = target("p1");
        Map<String, String> why = new java.util.LinkedHashMap<>();
        List<Map<String, String>> bad = List.of(Map.of(), Map.of("tier", "classic"), Map.of("size", ""),
                Map.of("size", "lots"), Map.of("size", "0"), Map.of("size", "-8Mi"), Map.of("size", "100m"),
                Map.of("size", "8MiB"), Map.of("size", "8Mi", "sise", "8Mi"), Map.of("size", "8Mi", "tier", "fast"),
                Map.of("size", "8Mi", "writebackCache", "yes"), Map.of("size", "8Mi", "inodes", "-1"),
                Map.of("size", "8Mi", "backend", "shared"), Map.of("size", "8Mi", "backend", "nfs"),
                Map.of("size", "99999999999Ei"));
        for (Map<String, String> attributes : bad) {
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                    () -> publish(HANDLE, target, attributes), attributes::toString);
            assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode(), attributes + ": " + e.getStatus());
            why.put(attributes.toString(), e.getStatus().getDescription());
        }
        assertTrue(why.get("{}").contains("size") && why.get("{}").contains("256Mi"), why.get("{}"));
        assertTrue(why.get("{size=lots}").contains("'lots' is not a size"), why.get("{size=lots}"));
        assertTrue(why.values().stream().anyMatch(m -> m.contains("unknown volume attribute 'sise'")), why::toString);
        assertTrue(why.values().stream().anyMatch(m -> m.contains("backend must be local")), why::toString);
        assertGone(HANDLE, target);

        // the sizes Kubernetes users write
        for (String size : List.of("4Mi", "4194304", "4.5Mi", "5M", "5e6")) {
            publish(HANDLE, target, Map.of("size", size));
            long bytes = d.node.nodeGetVolumeStats(Csi.NodeGetVolumeStatsRequest.newBuilder().setVolumeId(HANDLE)
                    .setVolumePath(target.toString()).build()).getUsage(0).getTotal();
            unpublish(HANDLE, target);
            assertEquals(ByteQuantity.parse(size), bytes, size);
        }
        assertEquals(4_718_592, ByteQuantity.parse("4.5Mi"));
        assertEquals(5_000_000, ByteQuantity.parse("5e6"));
        assertEquals(2, ByteQuantity.parse("1.5"), "a fraction of a byte rounds up");
        assertGone(HANDLE, target);
    }

    @Test
    void withoutTheSwitchAnInlinePublishIsRefusedSayingHowToAllowIt() throws Exception {
        d.close();
        d = driver(new CsiTestDriver.Inline(false, 0, 0));
        Path target = target("p1");
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                () -> publish(HANDLE, target, Map.of("size", "8Mi")));
        assertEquals(Status.Code.FAILED_PRECONDITION, e.getStatus().getCode(), e.getStatus().toString());
        assertTrue(e.getStatus().getDescription().contains("--allow-inline-volumes")
                && e.getStatus().getDescription().contains("inlineVolumes.enabled"), e.getStatus().getDescription());
        assertGone(HANDLE, target);
        // As before inline volumes: a handle no volume of this driver can have names nothing.
        assertCode(Status.Code.NOT_FOUND, () -> unpublish(HANDLE, target));
    }

    @Test
    void volumesMadeBeforeTheSwitchWasTurnedOffAreStillDeletedWithTheirPods() throws Exception {
        Path target = target("p1");
        publish(HANDLE, target, Map.of("size", "8Mi"));
        restart(new CsiTestDriver.Inline(false, 0, 0));
        unpublish(HANDLE, target);
        assertGone(HANDLE, target);
    }

    @Test
    void inlineVolumesCountAgainstTheNodesMaximum() throws Exception {
        d.close();
        d = driver(new CsiTestDriver.Inline(true, 0, 2));
        String provisioned = d.create("pvc-1", 8 * MIB).getVolumeId();
        Path pvcStaging = tmp.resolve("kubelet/staging").resolve(provisioned);
        d.stage(provisioned, pvcStaging);
        String second = HANDLE.replace("csi-5", "csi-6");
        publish(HANDLE, target("p1"), Map.of("size", "8Mi"));
        assertCode(Status.Code.RESOURCE_EXHAUSTED, () -> publish(second, target("p2"), Map.of("size", "8Mi")),
                "a staged volume and an inline one fill a node of two");
        assertFalse(Files.exists(data(second)));
        String third = d.create("pvc-2", 8 * MIB).getVolumeId();
        assertCode(Status.Code.RESOURCE_EXHAUSTED, () -> d.stage(third, tmp.resolve("kubelet/staging").resolve(third)),
                "the inline volume counts for staging too");

        unpublish(HANDLE, target("p1"));
        publish(second, target("p2"), Map.of("size", "8Mi"));
        unpublish(second, target("p2"));
        d.unstage(provisioned, pvcStaging);
        for (String id : List.of(provisioned, third)) {
            d.controller.deleteVolume(Csi.DeleteVolumeRequest.newBuilder().setVolumeId(id).build());
        }
        assertGone(second, target("p2"));
    }

    @Test
    void aLargerSizeThanTheNodeAllowsIsInvalidArgument() throws Exception {
        d.close();
        d = driver(new CsiTestDriver.Inline(true, 16 * MIB, 0));
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                () -> publish(HANDLE, target("p1"), Map.of("size", "17Mi")));
        assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
        assertTrue(e.getStatus().getDescription().contains("--inline-volume-max-size"), e.getStatus().getDescription());
        publish(HANDLE, target("p1"), Map.of("size", "16Mi"));
        unpublish(HANDLE, target("p1"));
        assertGone(HANDLE, target("p1"));
    }

    /**
     * The node plugin stops between publish and unpublish. Its sessions ran in it, so they end with it (the pod's
     * bind is left on a dead connection); the record says the volume is inline, so the unpublish kubelet sends to
     * the next process still deletes everything, and a publish retried before that brings the data back.
     */
    @Test
    void aRestartBetweenPublishAndUnpublishStillDeletesTheVolume() throws Exception {
        Path target = target("p1");
        publish(HANDLE, target, Map.of("size", "8Mi"));
        Files.writeString(target.resolve("note"), "before the restart");
        restart(CsiTestDriver.Inline.ALLOWED);
        assertTrue(Files.isRegularFile(record(HANDLE)));

        publish(HANDLE, target, Map.of("size", "8Mi"));
        assertEquals("before the restart", Files.readString(target.resolve("note")), "the data outlived the session");
        restart(CsiTestDriver.Inline.ALLOWED);
        unpublish(HANDLE, target);
        assertGone(HANDLE, target);
    }

    @Test
    void dataWithoutARecordIsRemovedAtStartAndRecordsAreKept() throws Exception {
        Path target = target("p1");
        publish(HANDLE, target, Map.of("size", "8Mi"));
        String orphan = VolumeIds.inlineId("csi-lost");
        Files.createDirectories(tmp.resolve("backing/volumes").resolve(orphan).resolve("sub"));
        restart(CsiTestDriver.Inline.ALLOWED);
        assertFalse(Files.exists(tmp.resolve("backing/volumes").resolve(orphan)), "no record names it");
        assertTrue(Files.isDirectory(data(HANDLE)), "the recorded volume keeps its data");
        unpublish(HANDLE, target);
        assertGone(HANDLE, target);
    }

    /** What stopping the node plugin does with in-process sessions, then a new one on the same directories. */
    private void restart(CsiTestDriver.Inline inline) throws Exception {
        d.stopProcess();
        d.nodeService.unstageAll();
        d = driver(inline);
    }
}
