package io.efuse.csi.volume;

import static org.junit.jupiter.api.Assertions.*;

import io.efuse.csi.sys.BtrfsSyscalls;
import io.efuse.csi.testing.BtrfsFilesystem;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The btrfs engine on a real btrfs (a loop-mounted image): subvolumes held by quotas, O(1) snapshots and clones. */
class BtrfsEngineTest {
    private static final long MIB = 1 << 20;

    @TempDir
    Path tmp;

    private final BtrfsSyscalls btrfs = new BtrfsSyscalls();

    @Test
    void aRootOnBtrfsGivesNewVolumesASubvolumeHeldToTheirSizeByTheKernel() throws Exception {
        try (BtrfsFilesystem fs = BtrfsFilesystem.create(tmp, "pool", 512 * MIB)) {
            BackingStore store = BackingStore.open(fs.root());
            assertEquals(EngineKind.BTRFS, store.defaultEngine());
            String id = VolumeIds.volumeId("pvc-btrfs");
            store.createVolume(id, new Limits(64 * MIB, 0), null);
            Path dir = store.serve(id);
            assertTrue(btrfs.isSubvolume(dir), "the volume is a subvolume");
            assertTrue(btrfs.noCow(dir), "the volume's files are overwritten in place");
            assertEquals(EngineKind.BTRFS, store.engineOf(id).orElseThrow());
            assertEquals(ServedLimits.class, store.served(id, new Limits(64 * MIB, 0)).getClass());
            ServedLimits served = store.served(id, new Limits(64 * MIB, 0));
            assertEquals(Limits.NONE, served.enforced(), "the kernel enforces the size: the daemon need not");
            assertEquals(64 * MIB, served.shownBytes());
            assertTrue(Files.isReadable(served.usageFile()), "the usage file exists: " + served.usageFile());

            IOException full = assertThrows(IOException.class, () -> write(dir.resolve("big"), 100 * MIB));
            assertTrue(full.getMessage().contains("quota"), full.toString());

            Files.delete(dir.resolve("big"));
            btrfs.sync(fs.root());
            store.resizeVolume(id, new Limits(160 * MIB, 0));
            write(dir.resolve("big"), 100 * MIB);
            btrfs.sync(fs.root());
            Usage u = store.usage(id, new Limits(160 * MIB, 0));
            assertTrue(u.bytesUsed() >= 100 * MIB && u.bytesUsed() < 110 * MIB, "usage counts what was written: " + u);
            long fromFile = Long.parseLong(Files.readString(served.usageFile()).trim());
            assertEquals(u.bytesUsed(), fromFile, "the daemon's usage file says what the store says");
        }
    }

    @Test
    void snapshotsAreReadOnlySubvolumesAndRestoresAndClonesAreIndependentCopies() throws Exception {
        try (BtrfsFilesystem fs = BtrfsFilesystem.create(tmp, "pool", 512 * MIB)) {
            BackingStore store = BackingStore.open(fs.root());
            String id = VolumeIds.volumeId("source");
            store.createVolume(id, new Limits(128 * MIB, 0), null);
            Path dir = store.serve(id);
            write(dir.resolve("data"), 8 * MIB);
            Files.writeString(dir.resolve("note"), "before");

            String snap = VolumeIds.snapshotId("snap");
            store.createSnapshot(snap, id);
            assertTrue(store.snapshotExists(snap));
            Files.writeString(dir.resolve("note"), "after");

            String restored = VolumeIds.volumeId("restored");
            store.createVolume(restored, new Limits(128 * MIB, 0), new ContentSource(ContentSource.Kind.SNAPSHOT, snap));
            Path r = store.serve(restored);
            assertEquals("before", Files.readString(r.resolve("note")), "the restore holds the snapshot's data");
            assertEquals(8 * MIB, Files.size(r.resolve("data")));
            Files.writeString(r.resolve("note"), "restored and written");
            assertTrue(btrfs.isSubvolume(r));
            assertFalse(btrfs.isReadOnly(r), "a restored volume is writable");

            String clone = VolumeIds.volumeId("clone");
            store.createVolume(clone, new Limits(128 * MIB, 0), new ContentSource(ContentSource.Kind.VOLUME, id));
            assertEquals("after", Files.readString(store.serve(clone).resolve("note")));
            assertEquals("after", Files.readString(dir.resolve("note")), "the source is unchanged by its copies");

            store.deleteSnapshot(snap);
            assertFalse(store.snapshotExists(snap));
            assertEquals("restored and written", Files.readString(r.resolve("note")),
                    "a restore outlives its snapshot");
        }
    }

    @Test
    void deletingAVolumeRemovesItsSubvolumeAndAReopenedStoreFindsTheOthers() throws Exception {
        try (BtrfsFilesystem fs = BtrfsFilesystem.create(tmp, "pool", 512 * MIB)) {
            BackingStore store = BackingStore.open(fs.root());
            String kept = VolumeIds.volumeId("kept");
            String gone = VolumeIds.volumeId("gone");
            store.createVolume(kept, new Limits(64 * MIB, 0), null);
            store.createVolume(gone, new Limits(64 * MIB, 0), null);
            write(store.serve(gone).resolve("f"), 16 * MIB);
            long goneGroup = btrfs.subvolumeId(store.serve(gone));
            store.deleteVolume(gone);
            assertFalse(store.volumeExists(gone));
            assertFalse(Files.exists(store.volumeDir(gone)));
            btrfs.sync(fs.root());
            assertFalse(Files.exists(Path.of("/sys/fs/btrfs", btrfs.fsid(fs.root()), "qgroups", "0_" + goneGroup)),
                    "the deleted subvolume's quota group is gone too");

            // a crash mid-create leaves a subvolume in the work directory; the next start removes it
            btrfs.createSubvolume(fs.root().resolve(".work/create-crashed"));
            BackingStore reopened = BackingStore.open(fs.root());
            assertEquals(java.util.List.of(kept), reopened.volumeIds());
            assertEquals(EngineKind.BTRFS, reopened.engineOf(kept).orElseThrow());
            try (var left = Files.list(fs.root().resolve(".work"))) {
                assertEquals(0, left.count(), "nothing is left in the work directory");
            }
        }
    }

    @Test
    void aDaemonVolumeOnABtrfsRootIsAPlainDirectoryAndItsCloneIntoBtrfsIsACopy() throws Exception {
        try (BtrfsFilesystem fs = BtrfsFilesystem.create(tmp, "pool", 512 * MIB)) {
            BackingStore store = BackingStore.open(fs.root());
            String plain = VolumeIds.volumeId("plain");
            store.createVolume(plain, new Limits(64 * MIB, 0), null, EngineKind.DAEMON);
            assertEquals(EngineKind.DAEMON, store.engineOf(plain).orElseThrow());
            assertFalse(btrfs.isSubvolume(store.serve(plain)));
            assertEquals(new Limits(64 * MIB, 0), store.served(plain, new Limits(64 * MIB, 0)).enforced());
            Files.writeString(store.serve(plain).resolve("f"), "plain data");

            String copy = VolumeIds.volumeId("copy");
            store.createVolume(copy, new Limits(64 * MIB, 0), new ContentSource(ContentSource.Kind.VOLUME, plain),
                    EngineKind.BTRFS);
            assertEquals(EngineKind.BTRFS, store.engineOf(copy).orElseThrow());
            assertEquals("plain data", Files.readString(store.serve(copy).resolve("f")));

            VolumeException e = assertThrows(VolumeException.class, () -> store.createVolume(plain,
                    new Limits(64 * MIB, 0), null, EngineKind.BTRFS));
            assertEquals(VolumeException.Reason.ALREADY_EXISTS, e.reason());
        }
    }

    @Test
    void randomOverwritesOfAVolumesFileAreInPlaceAndCostNoQuota() throws Exception {
        try (BtrfsFilesystem fs = BtrfsFilesystem.create(tmp, "pool", 512 * MIB)) {
            BackingStore store = BackingStore.open(fs.root());
            String id = VolumeIds.volumeId("db");
            store.createVolume(id, new Limits(64 * MIB, 0), null);
            Path file = store.serve(id).resolve("table");
            write(file, 48 * MIB);
            java.util.Random random = new java.util.Random(7);
            ByteBuffer page = ByteBuffer.allocate(4096);
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
                for (int i = 0; i < 20_000; i++) { // far more than the 16 MiB to spare, were each a new extent
                    page.clear();
                    ch.write(page, (long) random.nextInt((int) (48 * MIB / 4096)) * 4096);
                }
                ch.force(true);
            }
            btrfs.sync(fs.root());
            Usage u = store.usage(id, new Limits(64 * MIB, 0));
            assertTrue(u.bytesUsed() < 50 * MIB, "overwrites took no new space: " + u);
        }
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
