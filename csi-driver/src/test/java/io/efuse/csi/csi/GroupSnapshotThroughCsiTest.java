package io.efuse.csi.csi;

import static org.junit.jupiter.api.Assertions.*;

import csi.v1.Csi;
import io.efuse.csi.testing.BtrfsFilesystem;
import io.efuse.csi.testing.Mounts;
import io.efuse.csi.testing.RequiresFuse;
import io.efuse.csi.volume.EfuseMounter;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Volume group snapshots through the CSI socket. The heart of it: one writer appends numbered records to three
 * volumes in turn, each write finished before the next begins, while the group is taken. A group restore must then
 * hold, for some n, every record below n and none above: a member that shows a later record while another misses
 * an earlier one would be a group taken at more than one instant.
 */
@RequiresFuse
class GroupSnapshotThroughCsiTest {
    private static final long MIB = 1 << 20;
    private static final long SIZE = 320 * MIB;

    @TempDir
    Path tmp;

    /** Apart from {@link #tmp}, under which the driver unmounts everything when it stops. */
    @TempDir
    Path poolDir;

    private CsiTestDriver d;
    private BtrfsFilesystem btrfs;

    @AfterEach
    void stop() throws Exception {
        if (d != null) {
            d.close();
        }
        Mounts.unmountEverythingUnder(tmp.resolve("backing"));
        if (btrfs != null) {
            btrfs.close();
        }
    }

    private Path start(String engine) throws Exception {
        Path backing = tmp.resolve("backing");
        if (engine.equals("btrfs")) {
            btrfs = BtrfsFilesystem.create(poolDir, "pool", 2048 * MIB);
            backing = btrfs.root();
        }
        d = new CsiTestDriver(tmp, new EfuseMounter(2), backing);
        return backing;
    }

    @ParameterizedTest(name = "engine {0}, tier {1}")
    @CsvSource({"image, passthrough", "daemon, auto", "btrfs, classic"})
    void aGroupRestoreHoldsOneInstantOfAWriterAcrossItsVolumes(String engine, String tier) throws Exception {
        start(engine);
        List<String> ids = new ArrayList<>();
        List<Path> targets = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            String id = create("app-" + i, engine, tier, null);
            ids.add(id);
            targets.add(stageAndPublish(id));
        }
        AtomicBoolean stopWriting = new AtomicBoolean();
        AtomicLong written = new AtomicLong();
        AtomicLong afterGroup = new AtomicLong(-1);
        Throwable[] writerFailure = new Throwable[1];
        Thread writer = Thread.ofPlatform().name("group-writer").start(() -> {
            List<FileChannel> logs = new ArrayList<>();
            try {
                for (Path t : targets) {
                    logs.add(FileChannel.open(t.resolve("log"), StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                            StandardOpenOption.APPEND));
                }
                for (long n = 0; !stopWriting.get() || n < afterGroup.get() + 3000; n++) {
                    ByteBuffer record = ByteBuffer.wrap((n + "\n").getBytes(StandardCharsets.US_ASCII));
                    while (record.hasRemaining()) {
                        logs.get((int) (n % 3)).write(record);
                    }
                    written.set(n + 1);
                }
            } catch (Throwable e) {
                writerFailure[0] = e;
            } finally {
                for (FileChannel c : logs) {
                    try {
                        c.close();
                    } catch (java.io.IOException ignored) {
                        // the test fails on the writer's own error, if any
                    }
                }
            }
        });
        awaitAtLeast(written, 2000);
        Csi.VolumeGroupSnapshot g = d.group.createVolumeGroupSnapshot(Csi.CreateVolumeGroupSnapshotRequest
                .newBuilder().setName("cut").addAllSourceVolumeIds(ids).build()).getGroupSnapshot();
        afterGroup.set(written.get());
        stopWriting.set(true);
        writer.join(60_000);
        assertNull(writerFailure[0], "the writer ran on after the group was taken");
        assertTrue(g.getReadyToUse());
        assertEquals(3, g.getSnapshotsCount());

        List<Set<Long>> restored = new ArrayList<>(List.of(Set.of(), Set.of(), Set.of()));
        for (Csi.Snapshot s : g.getSnapshotsList()) {
            assertEquals(g.getGroupSnapshotId(), s.getGroupSnapshotId());
            String copy = create("restored-" + s.getSourceVolumeId(), engine, tier, Csi.VolumeContentSource
                    .newBuilder().setSnapshot(Csi.VolumeContentSource.SnapshotSource.newBuilder()
                            .setSnapshotId(s.getSnapshotId())).build());
            Path staging = tmp.resolve("kubelet/staging").resolve(copy);
            d.stage(copy, staging);
            int member = ids.indexOf(s.getSourceVolumeId());
            restored.set(member, records(staging.resolve("log"), member));
            d.unstage(copy, staging);
        }
        long cut = restored.stream().flatMap(Set::stream).mapToLong(Long::longValue).max().orElse(-1);
        assertTrue(cut >= 2000, "the group holds what was written before it began: " + cut);
        assertTrue(cut < written.get() - 1, "writes went on after the group (" + written.get() + " in all, cut at "
                + cut + "), so the cut is an instant in the middle of the stream");
        for (long n = 0; n <= cut; n++) {
            int member = (int) (n % 3);
            assertTrue(restored.get(member).contains(n), "record " + n + " (volume " + member + ") is missing while"
                    + " record " + cut + " is in the group: the members were taken at different instants");
        }
    }

    @Test
    void aVolumeWritingThroughPassthroughIntoASharedFilesystemIsRefusedAndKeepsRunning() throws Exception {
        start("btrfs");
        String a = create("a", "btrfs", "passthrough", null);
        String b = create("b", "btrfs", "passthrough", null);
        Path ta = stageAndPublish(a);
        stageAndPublish(b);
        try (FileChannel open = FileChannel.open(ta.resolve("db"), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE)) {
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> d.group
                    .createVolumeGroupSnapshot(Csi.CreateVolumeGroupSnapshotRequest.newBuilder().setName("g")
                            .addSourceVolumeIds(a).addSourceVolumeIds(b).build()));
            assertEquals(Status.Code.FAILED_PRECONDITION, e.getStatus().getCode());
            assertTrue(e.getMessage().contains(a) && e.getMessage().contains("passthrough"), e.getMessage());
            open.write(ByteBuffer.wrap("still writable".getBytes()));
            Files.writeString(ta.resolve("other"), "the volume runs again");
        }
        assertEquals(List.of(), d.controller.listSnapshots(Csi.ListSnapshotsRequest.getDefaultInstance())
                .getEntriesList(), "a refused group leaves no snapshot behind");
        // with the file closed, nothing writes past the hold any more
        Csi.VolumeGroupSnapshot g = d.group.createVolumeGroupSnapshot(Csi.CreateVolumeGroupSnapshotRequest
                .newBuilder().setName("g").addSourceVolumeIds(a).addSourceVolumeIds(b).build()).getGroupSnapshot();
        assertTrue(g.getReadyToUse());
    }

    @Test
    void requestsGetTheCodesTheSpecNames() throws Exception {
        start("daemon");
        Csi.GetPluginCapabilitiesResponse caps = d.identity.getPluginCapabilities(
                Csi.GetPluginCapabilitiesRequest.getDefaultInstance());
        assertTrue(caps.getCapabilitiesList().stream().anyMatch(c -> c.getService().getType()
                == Csi.PluginCapability.Service.Type.GROUP_CONTROLLER_SERVICE));
        assertEquals(Csi.GroupControllerServiceCapability.RPC.Type.CREATE_DELETE_GET_VOLUME_GROUP_SNAPSHOT,
                d.group.groupControllerGetCapabilities(Csi.GroupControllerGetCapabilitiesRequest.getDefaultInstance())
                        .getCapabilities(0).getRpc().getType());
        String a = create("a", "daemon", "auto", null);
        String b = create("b", "daemon", "auto", null);
        String c = create("c", "daemon", "auto", null);

        assertCode(Status.Code.INVALID_ARGUMENT, () -> createGroup("", a));
        assertCode(Status.Code.INVALID_ARGUMENT, () -> createGroup("g"));
        assertCode(Status.Code.INVALID_ARGUMENT, () -> createGroup("g", a, a));
        assertCode(Status.Code.NOT_FOUND, () -> createGroup("g", a, "v-00000000000000000000000000000000"));
        assertCode(Status.Code.NOT_FOUND, () -> createGroup("g", a, "../etc"));
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.group.createVolumeGroupSnapshot(
                Csi.CreateVolumeGroupSnapshotRequest.newBuilder().setName("g").addSourceVolumeIds(a)
                        .putParameters("color", "blue").build()));

        Csi.VolumeGroupSnapshot g = d.group.createVolumeGroupSnapshot(Csi.CreateVolumeGroupSnapshotRequest.newBuilder()
                .setName("g").addSourceVolumeIds(a).addSourceVolumeIds(b)
                .putParameters("csi.storage.k8s.io/volumegroupsnapshot/name", "cut")
                .putParameters("csi.storage.k8s.io/volumegroupsnapshot/namespace", "db")
                .build()).getGroupSnapshot(); // the snapshotter's metadata is not a parameter of the class
        assertEquals(g.getGroupSnapshotId(), createGroup("g", b, a).getGroupSnapshotId(),
                "the same name and volumes, in any order, is the same group");
        assertCode(Status.Code.ALREADY_EXISTS, () -> createGroup("g", a, c));
        List<String> members = g.getSnapshotsList().stream().map(Csi.Snapshot::getSnapshotId).toList();

        assertEquals(members, d.group.getVolumeGroupSnapshot(Csi.GetVolumeGroupSnapshotRequest.newBuilder()
                .setGroupSnapshotId(g.getGroupSnapshotId()).addAllSnapshotIds(members).build()).getGroupSnapshot()
                .getSnapshotsList().stream().map(Csi.Snapshot::getSnapshotId).toList());
        assertCode(Status.Code.NOT_FOUND, () -> d.group.getVolumeGroupSnapshot(Csi.GetVolumeGroupSnapshotRequest
                .newBuilder().setGroupSnapshotId("g-00000000000000000000000000000000").build()));
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.group.getVolumeGroupSnapshot(
                Csi.GetVolumeGroupSnapshotRequest.newBuilder().setGroupSnapshotId(g.getGroupSnapshotId())
                        .addSnapshotIds(members.get(0)).build()));
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.group.getVolumeGroupSnapshot(
                Csi.GetVolumeGroupSnapshotRequest.newBuilder().build()));

        for (String member : members) {
            assertEquals(g.getGroupSnapshotId(), d.controller.getSnapshot(Csi.GetSnapshotRequest.newBuilder()
                    .setSnapshotId(member).build()).getSnapshot().getGroupSnapshotId());
            assertCode(Status.Code.INVALID_ARGUMENT, () -> d.controller.deleteSnapshot(Csi.DeleteSnapshotRequest
                    .newBuilder().setSnapshotId(member).build()));
        }
        assertCode(Status.Code.INVALID_ARGUMENT, () -> d.group.deleteVolumeGroupSnapshot(
                Csi.DeleteVolumeGroupSnapshotRequest.newBuilder().setGroupSnapshotId(g.getGroupSnapshotId())
                        .addSnapshotIds(members.get(1)).build()));
        d.group.deleteVolumeGroupSnapshot(Csi.DeleteVolumeGroupSnapshotRequest.newBuilder()
                .setGroupSnapshotId(g.getGroupSnapshotId()).addAllSnapshotIds(members).build());
        assertEquals(List.of(), d.controller.listSnapshots(Csi.ListSnapshotsRequest.getDefaultInstance())
                .getEntriesList(), "deleting the group deletes its members");
        d.group.deleteVolumeGroupSnapshot(Csi.DeleteVolumeGroupSnapshotRequest.newBuilder()
                .setGroupSnapshotId(g.getGroupSnapshotId()).addAllSnapshotIds(members).build()); // idempotent
        assertCode(Status.Code.NOT_FOUND, () -> d.group.getVolumeGroupSnapshot(Csi.GetVolumeGroupSnapshotRequest
                .newBuilder().setGroupSnapshotId(g.getGroupSnapshotId()).addAllSnapshotIds(members).build()));
    }

    @Test
    void aMemberStagedWithTheWritebackCacheIsRefused() throws Exception {
        start("daemon");
        String a = create("a", "daemon", "classic", null);
        var req = Csi.CreateVolumeRequest.newBuilder().setName("cached").addVolumeCapabilities(CsiTestDriver.rwo())
                .setCapacityRange(Csi.CapacityRange.newBuilder().setRequiredBytes(SIZE))
                .putParameters("engine", "daemon").putParameters("tier", "classic")
                .putParameters("writebackCache", "true");
        String cached = d.controller.createVolume(req.build()).getVolume().getVolumeId();
        stageAndPublish(a);
        stageAndPublish(cached);
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> createGroup("g", a, cached));
        assertEquals(Status.Code.FAILED_PRECONDITION, e.getStatus().getCode());
        assertTrue(e.getMessage().contains("write-back cache"), e.getMessage());
        Files.writeString(tmp.resolve("kubelet/pods").resolve(a).resolve("mount/after"), "runs again");
    }

    private Csi.VolumeGroupSnapshot createGroup(String name, String... volumes) {
        return d.group.createVolumeGroupSnapshot(Csi.CreateVolumeGroupSnapshotRequest.newBuilder().setName(name)
                .addAllSourceVolumeIds(List.of(volumes)).build()).getGroupSnapshot();
    }

    private static void assertCode(Status.Code code, org.junit.jupiter.api.function.Executable call) {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call);
        assertEquals(code, e.getStatus().getCode(), e.getMessage());
    }

    private Path stageAndPublish(String id) {
        Path staging = tmp.resolve("kubelet/staging").resolve(id);
        Path target = tmp.resolve("kubelet/pods").resolve(id).resolve("mount");
        d.stage(id, staging);
        d.publish(id, staging, target, false);
        return target;
    }

    private String create(String name, String engine, String tier, Csi.VolumeContentSource source) {
        var req = Csi.CreateVolumeRequest.newBuilder().setName(name).addVolumeCapabilities(CsiTestDriver.rwo())
                .setCapacityRange(Csi.CapacityRange.newBuilder().setRequiredBytes(SIZE)).putParameters("engine", engine)
                .putParameters("tier", tier);
        if (source != null) {
            req.setVolumeContentSource(source);
        }
        return d.controller.createVolume(req.build()).getVolume().getVolumeId();
    }

    /** The records of one member's log: every line whole, each one of this member's. */
    private static Set<Long> records(Path log, int member) throws java.io.IOException {
        Set<Long> found = new HashSet<>();
        if (!Files.exists(log)) {
            return found;
        }
        String text = Files.readString(log, StandardCharsets.US_ASCII);
        assertTrue(text.isEmpty() || text.endsWith("\n"), "a record was cut in half: " + log);
        for (String line : text.split("\n")) {
            if (!line.isEmpty()) {
                long n = Long.parseLong(line);
                assertEquals(member, n % 3, "record " + n + " in the wrong volume");
                found.add(n);
            }
        }
        return found;
    }

    private static void awaitAtLeast(AtomicLong counter, long n) throws InterruptedException {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (counter.get() < n) {
            assertTrue(System.nanoTime() < deadline, "the writer wrote " + counter.get() + " records in 30 s");
            Thread.sleep(5);
        }
    }
}
