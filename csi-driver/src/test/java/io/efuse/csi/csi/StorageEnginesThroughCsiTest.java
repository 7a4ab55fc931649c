package io.efuse.csi.csi;

import static org.junit.jupiter.api.Assertions.*;

import csi.v1.Csi;
import io.efuse.csi.testing.BtrfsFilesystem;
import io.efuse.csi.testing.Mounts;
import io.efuse.csi.testing.ProcessRunner;
import io.efuse.csi.testing.RequiresFuse;
import io.efuse.csi.volume.EfuseMounter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A volume of each storage engine through the CSI socket, as a PVC gets one: asked for by the StorageClass
 * parameter, staged with the passthrough data path where the kernel enforces the size, held to its size on that
 * path, {@code df} showing it, expanded online, snapshotted, restored and cloned, and deleted without a trace.
 */
class StorageEnginesThroughCsiTest {
    private static final long MIB = 1 << 20;
    private static final long SIZE = 320 * MIB;
    private static final long GROWN = 384 * MIB;

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

    @RequiresFuse
    @ParameterizedTest(name = "engine {0}")
    @ValueSource(strings = {"btrfs", "image", "daemon"})
    void aVolumeOfEachEngineLivesItsWholeLifeThroughCsi(String engine) throws Exception {
        Path backing = tmp.resolve("backing");
        if (engine.equals("btrfs")) {
            btrfs = BtrfsFilesystem.create(poolDir, "pool", 2048 * MIB);
            backing = btrfs.root();
        }
        d = new CsiTestDriver(tmp, new EfuseMounter(2), backing);
        String id = create("app", SIZE, engine, null);
        Path staging = tmp.resolve("kubelet/staging").resolve(id);
        Path target = tmp.resolve("kubelet/pods").resolve(id).resolve("mount");
        d.stage(id, staging);
        d.publish(id, staging, target, false);

        assertEquals(SIZE, Files.getFileStore(target).getTotalSpace(), "df in the pod shows the volume's size");
        String condition = stats(id, target).getVolumeCondition().getMessage();
        assertTrue(condition.contains("engine " + engine), condition);
        if (!engine.equals("daemon")) {
            assertTrue(condition.contains("tier passthrough"), "the kernel holds the size, so file data takes the "
                    + "passthrough path: " + condition);
        }

        IOException full = assertThrows(IOException.class, () -> write(target.resolve("big"), SIZE + 32 * MIB));
        String why = String.valueOf(full.getMessage());
        assertTrue(why.contains("quota") || why.contains("space"), "a write past the size fails: " + full);
        Files.delete(target.resolve("big"));
        long pastMib = (SIZE + 32 * MIB) / MIB;
        assertFails("dd", "if=/dev/zero", "of=" + target.resolve("direct"), "bs=1M", "count=" + pastMib,
                "oflag=direct");
        Files.deleteIfExists(target.resolve("direct"));
        assertFails("fallocate", "-l", Long.toString(SIZE + 32 * MIB), target.resolve("reserved").toString());
        Files.deleteIfExists(target.resolve("reserved"));

        d.controller.controllerExpandVolume(Csi.ControllerExpandVolumeRequest.newBuilder().setVolumeId(id)
                .setCapacityRange(Csi.CapacityRange.newBuilder().setRequiredBytes(GROWN)).build());
        d.node.nodeExpandVolume(Csi.NodeExpandVolumeRequest.newBuilder().setVolumeId(id)
                .setVolumePath(target.toString()).setCapacityRange(Csi.CapacityRange.newBuilder()
                        .setRequiredBytes(GROWN)).build());
        assertEquals(GROWN, Files.getFileStore(target).getTotalSpace(), "the live mount grew");
        write(target.resolve("big"), SIZE + 16 * MIB); // more than the old size fits now
        Files.writeString(target.resolve("note"), "in the snapshot");
        assertEquals(GROWN, stats(id, target).getUsage(0).getTotal());

        String snap = d.controller.createSnapshot(Csi.CreateSnapshotRequest.newBuilder().setName("snap")
                .setSourceVolumeId(id).build()).getSnapshot().getSnapshotId();
        Files.writeString(target.resolve("note"), "after the snapshot");
        String restored = create("restored", GROWN, engine, Csi.VolumeContentSource.newBuilder().setSnapshot(
                Csi.VolumeContentSource.SnapshotSource.newBuilder().setSnapshotId(snap)).build());
        String clone = create("clone", GROWN, engine, Csi.VolumeContentSource.newBuilder().setVolume(
                Csi.VolumeContentSource.VolumeSource.newBuilder().setVolumeId(id)).build());
        for (String[] v : new String[][] {{restored, "in the snapshot"}, {clone, "after the snapshot"}}) {
            Path st = tmp.resolve("kubelet/staging").resolve(v[0]);
            d.stage(v[0], st);
            assertEquals(v[1], Files.readString(st.resolve("note")));
            assertEquals(SIZE + 16 * MIB, Files.size(st.resolve("big")));
            assertEquals(GROWN, Files.getFileStore(st).getTotalSpace());
            d.unstage(v[0], st);
        }

        d.unpublish(id, target);
        d.unstage(id, staging);
        for (String v : new String[] {id, restored, clone}) {
            d.controller.deleteVolume(Csi.DeleteVolumeRequest.newBuilder().setVolumeId(v).build());
        }
        d.controller.deleteSnapshot(Csi.DeleteSnapshotRequest.newBuilder().setSnapshotId(snap).build());
        for (String dir : new String[] {"volumes", "snapshots", "images", ".work"}) {
            try (var left = Files.list(backing.resolve(dir))) {
                assertEquals(java.util.List.of(), left.toList(), "DeleteVolume leaves nothing in " + dir);
            }
        }
        assertFalse(io.efuse.csi.sys.MountTable.read().stream().anyMatch(e -> e.mountPoint().startsWith(
                tmp.resolve("backing").toString())), "no image stays mounted");
    }

    /** Runs a tool that must fail for want of space, and says so. */
    private static void assertFails(String... cmd) throws IOException, InterruptedException {
        ProcessRunner.Result r = ProcessRunner.run(Duration.ofMinutes(5), cmd);
        assertNotEquals(0, r.exit(), String.join(" ", cmd) + " past the size succeeded: " + r.output());
        assertTrue(r.output().contains("quota") || r.output().contains("space"), String.join(" ", cmd) + ": "
                + r.output());
    }

    private String create(String name, long bytes, String engine, Csi.VolumeContentSource source) {
        var req = Csi.CreateVolumeRequest.newBuilder().setName(name).addVolumeCapabilities(CsiTestDriver.rwo())
                .setCapacityRange(Csi.CapacityRange.newBuilder().setRequiredBytes(bytes)).putParameters("engine",
                        engine);
        if (source != null) {
            req.setVolumeContentSource(source);
        }
        return d.controller.createVolume(req.build()).getVolume().getVolumeId();
    }

    private Csi.NodeGetVolumeStatsResponse stats(String id, Path target) {
        return d.node.nodeGetVolumeStats(Csi.NodeGetVolumeStatsRequest.newBuilder().setVolumeId(id)
                .setVolumePath(target.toString()).build());
    }

    private static void write(Path file, long bytes) throws IOException {
        ByteBuffer chunk = ByteBuffer.allocate((int) MIB);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            for (long done = 0; done < bytes; done += MIB) {
                chunk.clear();
                while (chunk.hasRemaining()) {
                    ch.write(chunk);
                }
            }
            ch.force(true);
        }
    }
}
