package io.efuse.csi.volume;

import static org.junit.jupiter.api.Assertions.*;

import io.efuse.csi.sys.MountTable;
import io.efuse.csi.sys.StatFs;
import io.efuse.csi.sys.Syscalls;
import io.efuse.csi.testing.RequiresRoot;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The image engine on this machine's disk: an ext4 or XFS image per volume on a loop device. */
@RequiresRoot
class ImageEngineTest {
    private static final long MIB = 1 << 20;

    @TempDir
    Path tmp;

    @BeforeEach
    void needsLoopDevices() {
        Assumptions.assumeTrue(Files.isWritable(Path.of("/dev/loop-control")), "skipped: no /dev/loop-control");
    }

    @org.junit.jupiter.api.AfterEach
    void unmount() {
        io.efuse.csi.testing.Mounts.unmountEverythingUnder(tmp);
    }

    private BackingStore store(String imageFs) throws IOException {
        return BackingStore.open(tmp.resolve("root"), new StorageOptions(EngineKind.IMAGE, imageFs, null, 0));
    }

    @Test
    void aVolumeHoldsItsSizeOfDataAndNotMoreAndDfShowsTheSize() throws Exception {
        for (String fs : new String[] {"ext4", "xfs"}) {
            BackingStore store = store(fs);
            long size = 320 * MIB;
            String id = VolumeIds.volumeId("size-" + fs);
            store.createVolume(id, new Limits(size, 0), null);
            Path dir = store.serve(id);
            assertEquals(fs, MountTable.find(dir).orElseThrow().fsType(), "the image holds " + fs);
            assertTrue(StatFs.of(dir).bytesTotal() >= size, fs + ": the filesystem offers the volume's size");
            ServedLimits served = store.served(id, new Limits(size, 0));
            assertEquals(Limits.NONE, served.enforced(), "the image's filesystem enforces the size");
            assertEquals(size, served.shownBytes(), "the daemon shows the size exactly");

            long written = fill(dir.resolve("data"));
            assertTrue(written >= size - 16 * MIB && written <= size + 16 * MIB,
                    fs + ": about the size was written before ENOSPC: " + written);
            // XFS's log (64 MiB) and reserves take their share beside the data
            long allocated = (long) Files.getAttribute(store.root().resolve("images/" + id + ".img"), "unix:size");
            assertTrue(allocated <= size + 96 * MIB, fs + ": the image is about the size: " + allocated);
            store.deleteVolume(id);
            assertFalse(store.volumeExists(id));
            assertTrue(MountTable.find(dir).isEmpty(), "the image is unmounted");
            assertFalse(Files.exists(store.root().resolve("images/" + id + ".img")), "and gone");
        }
    }

    @Test
    void anXfsImageGrowsOnlineWhileAFileIsOpen() throws Exception {
        BackingStore store = store("xfs");
        String id = VolumeIds.volumeId("grow");
        store.createVolume(id, new Limits(320 * MIB, 0), null);
        Path dir = store.serve(id);
        try (FileChannel ch = FileChannel.open(dir.resolve("open"), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(new byte[4096]));
            store.resizeVolume(id, new Limits(640 * MIB, 0));
            ch.write(ByteBuffer.wrap(new byte[4096]));
        }
        assertTrue(StatFs.of(dir).bytesTotal() >= 640 * MIB, "grown: " + StatFs.of(dir).bytesTotal());
        assertEquals(640 * MIB, store.usage(id, new Limits(640 * MIB, 0)).bytesTotal());
    }

    @Test
    void snapshotRestoreAndCloneCopyTheImageAndAreIndependent() throws Exception {
        BackingStore store = store("ext4");
        String id = VolumeIds.volumeId("src");
        store.createVolume(id, new Limits(64 * MIB, 0), null);
        Path dir = store.serve(id);
        Files.writeString(dir.resolve("note"), "before");
        String snap = VolumeIds.snapshotId("snap");
        store.createSnapshot(snap, id);
        Files.writeString(dir.resolve("note"), "after");

        String restored = VolumeIds.volumeId("restored");
        store.createVolume(restored, new Limits(96 * MIB, 0), new ContentSource(ContentSource.Kind.SNAPSHOT, snap));
        Path r = store.serve(restored);
        assertEquals("before", Files.readString(r.resolve("note")));
        assertTrue(StatFs.of(r).bytesTotal() >= 96 * MIB, "the restore has its own, bigger size");

        String clone = VolumeIds.volumeId("clone");
        store.createVolume(clone, new Limits(64 * MIB, 0), new ContentSource(ContentSource.Kind.VOLUME, id));
        assertEquals("after", Files.readString(store.serve(clone).resolve("note")));
        Files.writeString(store.serve(clone).resolve("note"), "clone");
        assertEquals("after", Files.readString(dir.resolve("note")), "the source is unchanged by its clone");

        String plain = VolumeIds.volumeId("plain");
        store.createVolume(plain, new Limits(64 * MIB, 0), new ContentSource(ContentSource.Kind.SNAPSHOT, snap),
                EngineKind.DAEMON);
        assertEquals("before", Files.readString(store.serve(plain).resolve("note")),
                "another engine's volume restores from an image snapshot by copying its files");
        store.deleteSnapshot(snap);
        assertFalse(store.snapshotExists(snap));
    }

    @Test
    void aRestartAfterARebootMountsTheImagesAgain() throws Exception {
        BackingStore store = store("ext4");
        String id = VolumeIds.volumeId("reboot");
        store.createVolume(id, new Limits(32 * MIB, 0), null);
        Path dir = store.serve(id);
        Files.writeString(dir.resolve("kept"), "data");
        Syscalls.umount(dir, 0); // what a reboot does to the mount and, with autoclear, its loop device
        assertFalse(Files.exists(dir.resolve("kept")));

        BackingStore again = store("ext4");
        assertEquals(java.util.List.of(id), again.volumeIds());
        assertEquals(EngineKind.IMAGE, again.engineOf(id).orElseThrow());
        assertEquals("data", Files.readString(again.serve(id).resolve("kept")));
        again.deleteVolume(id);
    }

    @Test
    void theNodesChoiceGivesASmallVolumeAnImageOnlyWhereItCanGrowMounted() throws Exception {
        BackingStore store = BackingStore.open(tmp.resolve("auto"));
        String small = VolumeIds.volumeId("small");
        store.createVolume(small, new Limits(16 * MIB, 0), null);
        boolean canGrowExt4 = Syscalls.hasCapability(Syscalls.CAP_SYS_RESOURCE);
        assertEquals(canGrowExt4 ? EngineKind.IMAGE : EngineKind.DAEMON, store.engineOf(small).orElseThrow());
        String big = VolumeIds.volumeId("big");
        store.createVolume(big, new Limits(320 * MIB, 0), null);
        assertEquals(EngineKind.IMAGE, store.engineOf(big).orElseThrow());
        store.deleteVolume(big);
        store.deleteVolume(small);
    }

    @Test
    void tooSmallAnImageIsOutOfRangeAndLeavesNothing() throws Exception {
        BackingStore store = store("xfs");
        String id = VolumeIds.volumeId("tiny");
        VolumeException e = assertThrows(VolumeException.class,
                () -> store.createVolume(id, new Limits(16 * MIB, 0), null));
        assertEquals(VolumeException.Reason.OUT_OF_RANGE, e.reason());
        assertFalse(store.volumeExists(id));
        try (var left = Files.list(store.root().resolve(".work"))) {
            assertEquals(0, left.count(), "nothing is left of the attempt");
        }
    }

    private static long fill(Path file) throws IOException {
        ByteBuffer chunk = ByteBuffer.allocate((int) MIB);
        long done = 0;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            while (true) {
                chunk.clear();
                try {
                    while (chunk.hasRemaining()) {
                        done += ch.write(chunk);
                    }
                } catch (IOException e) {
                    assertTrue(e.getMessage().contains("space"), "the image is full: " + e);
                    return done;
                }
                if (done > 4096 * MIB) {
                    fail("no ENOSPC after " + done + " bytes");
                }
            }
        }
    }
}
