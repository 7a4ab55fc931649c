package io.efuse.csi.csi;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import csi.v1.Csi;
import io.efuse.csi.sys.MountTable;
import io.efuse.csi.testing.RequiresFuse;
import io.efuse.csi.volume.EfuseMounter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Full volume lifecycles with real eFuse sessions, driven over the CSI socket: the size limit holds for writes
 * through the pod's target and {@code df} shows it, expansion takes effect on the live mount, snapshots restore the
 * data as it was and clones copy it, and a session whose FUSE connection dies is reported and cleaned up.
 * The backing root has no kernel project quotas here, so the daemon enforces the limits itself.
 */
@RequiresFuse
class EfuseLifecycleTest {
    private static final int MIB = 1 << 20;

    @TempDir
    Path tmp;

    private CsiTestDriver d;

    @BeforeEach
    void start() throws IOException {
        d = new CsiTestDriver(tmp, new EfuseMounter(2), tmp.resolve("backing"));
    }

    @AfterEach
    void stop() throws InterruptedException {
        if (d != null) {
            d.close();
        }
    }

    private Path stageAndPublish(String id) {
        Path staging = tmp.resolve("kubelet/staging").resolve(id);
        Path target = tmp.resolve("kubelet/pods").resolve(id).resolve("mount");
        d.stage(id, staging);
        d.publish(id, staging, target, false);
        return target;
    }

    @Test
    void aVolumeIsHeldToItsSizeGrowsOnlineAndReportsItsUsage() throws IOException {
        String id = d.create("app", 4 * MIB).getVolumeId();
        Path target = stageAndPublish(id);
        assertEquals(4 * MIB, Files.getFileStore(target).getTotalSpace(), "df in the pod shows the volume's size");

        Files.write(target.resolve("a"), new byte[MIB]);
        IOException full = assertThrows(IOException.class, () -> Files.write(target.resolve("b"), new byte[4 * MIB]));
        assertTrue(String.valueOf(full.getMessage()).contains("quota"), "a write past the limit fails with EDQUOT: "
                + full);

        var stats = d.node.nodeGetVolumeStats(Csi.NodeGetVolumeStatsRequest.newBuilder().setVolumeId(id)
                .setVolumePath(target.toString()).build());
        assertEquals(4 * MIB, stats.getUsage(0).getTotal());
        assertTrue(stats.getUsage(0).getUsed() >= MIB, stats.toString());
        assertFalse(stats.getVolumeCondition().getAbnormal(), stats.getVolumeCondition().getMessage());

        d.controller.controllerExpandVolume(Csi.ControllerExpandVolumeRequest.newBuilder().setVolumeId(id)
                .setCapacityRange(Csi.CapacityRange.newBuilder().setRequiredBytes(16 * MIB)).build());
        d.node.nodeExpandVolume(Csi.NodeExpandVolumeRequest.newBuilder().setVolumeId(id)
                .setVolumePath(target.toString()).setCapacityRange(Csi.CapacityRange.newBuilder()
                        .setRequiredBytes(16 * MIB)).build());
        assertEquals(16 * MIB, Files.getFileStore(target).getTotalSpace(), "the live mount grew");
        Files.deleteIfExists(target.resolve("b"));
        Files.write(target.resolve("c"), new byte[8 * MIB]);

        Path staging = tmp.resolve("kubelet/staging").resolve(id);
        d.unpublish(id, target);
        d.unstage(id, staging);
        assertFalse(MountTable.isMountPoint(staging));
        assertFalse(MountTable.isMountPoint(target));
        assertEquals(8 * MIB, Files.size(tmp.resolve("backing/volumes").resolve(id).resolve("c")));
    }

    @Test
    void snapshotRestoresTheDataAsItWasAndCloneCopiesItNow() throws IOException {
        String src = d.create("src", 8 * MIB).getVolumeId();
        Path t = stageAndPublish(src);
        byte[] blob = new byte[2 * MIB];
        new Random(42).nextBytes(blob);
        Files.write(t.resolve("blob"), blob);
        Files.createDirectories(t.resolve("dir/sub"));
        Files.writeString(t.resolve("dir/sub/note"), "kept");
        Files.createSymbolicLink(t.resolve("link"), Path.of("dir/sub/note"));

        Csi.Snapshot snap = d.controller.createSnapshot(Csi.CreateSnapshotRequest.newBuilder().setName("snap")
                .setSourceVolumeId(src).build()).getSnapshot();
        Files.writeString(t.resolve("dir/sub/note"), "changed after the snapshot");
        Files.writeString(t.resolve("later"), "only in the clone");

        String restored = d.controller.createVolume(Csi.CreateVolumeRequest.newBuilder().setName("restored")
                .addVolumeCapabilities(CsiTestDriver.rwo()).setCapacityRange(Csi.CapacityRange.newBuilder()
                        .setRequiredBytes(8 * MIB)).setVolumeContentSource(Csi.VolumeContentSource.newBuilder()
                        .setSnapshot(Csi.VolumeContentSource.SnapshotSource.newBuilder()
                                .setSnapshotId(snap.getSnapshotId()))).build()).getVolume().getVolumeId();
        Path r = stageAndPublish(restored);
        assertArrayEquals(blob, Files.readAllBytes(r.resolve("blob")));
        assertEquals("kept", Files.readString(r.resolve("dir/sub/note")));
        assertEquals(Path.of("dir/sub/note"), Files.readSymbolicLink(r.resolve("link")));
        assertFalse(Files.exists(r.resolve("later"), LinkOption.NOFOLLOW_LINKS));

        String clone = d.controller.createVolume(Csi.CreateVolumeRequest.newBuilder().setName("clone")
                .addVolumeCapabilities(CsiTestDriver.rwo()).setCapacityRange(Csi.CapacityRange.newBuilder()
                        .setRequiredBytes(8 * MIB)).setVolumeContentSource(Csi.VolumeContentSource.newBuilder()
                        .setVolume(Csi.VolumeContentSource.VolumeSource.newBuilder().setVolumeId(src)))
                .build()).getVolume().getVolumeId();
        Path c = stageAndPublish(clone);
        assertArrayEquals(blob, Files.readAllBytes(c.resolve("blob")));
        assertEquals("changed after the snapshot", Files.readString(c.resolve("dir/sub/note")));
        assertEquals("only in the clone", Files.readString(c.resolve("later")));

        Files.writeString(c.resolve("later"), "the clone is its own copy");
        assertEquals("only in the clone", Files.readString(t.resolve("later")));
    }

    @Test
    void aSessionWhoseConnectionDiedIsReportedAndStillCleanedUp() throws IOException {
        String id = d.create("doomed", 4 * MIB).getVolumeId();
        Path target = stageAndPublish(id);
        Files.writeString(target.resolve("x"), "before");
        int connection = MountTable.find(target).orElseThrow().minor();
        Path connections = Path.of("/sys/fs/fuse/connections");
        if (!MountTable.isMountPoint(connections)) {
            // the FUSE control filesystem is how an operator aborts a connection; systemd usually mounts it
            io.efuse.csi.sys.Syscalls.mount("fusectl", connections, "fusectl", 0, null);
        }
        Files.writeString(connections.resolve(connection + "/abort"), "1");
        assertThrows(IOException.class, () -> Files.readString(target.resolve("x")), "the connection is dead");

        var stats = d.node.nodeGetVolumeStats(Csi.NodeGetVolumeStatsRequest.newBuilder().setVolumeId(id)
                .setVolumePath(target.toString()).build());
        assertTrue(stats.getVolumeCondition().getAbnormal(), stats.toString());

        Path staging = tmp.resolve("kubelet/staging").resolve(id);
        d.unpublish(id, target);
        d.unpublish(id, target);
        d.unstage(id, staging);
        d.unstage(id, staging);
        assertFalse(MountTable.isMountPoint(target));
        assertFalse(MountTable.isMountPoint(staging));
        assertEquals("before", Files.readString(tmp.resolve("backing/volumes").resolve(id).resolve("x")));

        d.stage(id, staging);
        d.publish(id, staging, target, false);
        assertEquals("before", Files.readString(target.resolve("x")), "staged again after the crash");
    }
}
