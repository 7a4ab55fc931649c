package io.efuse.csi.sys;

import io.efuse.csi.testing.BoundedWait;
import io.efuse.csi.testing.BtrfsFilesystem;

import static org.junit.jupiter.api.Assertions.*;

import io.efuse.csi.sys.BtrfsSyscalls.QgroupBusyException;
import io.efuse.csi.sys.BtrfsSyscalls.QgroupUsage;
import io.efuse.csi.sys.BtrfsSyscalls.QuotaMode;
import io.efuse.csi.sys.BtrfsSyscalls.SimpleQuotaUnsupportedException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BtrfsSyscallsTest {
    private static final long MiB = 1L << 20;
    private static final long IMAGE_BYTES = 300 * MiB;

    private final BtrfsSyscalls btrfs = new BtrfsSyscalls();

    @TempDir
    Path dir;

    @BeforeEach
    void needsRootLoopDevicesAndBtrfs() {
        BtrfsFilesystem.assumeAvailable();
    }

    @Test
    void onlyPathsOnBtrfsAreBtrfsAndTheFsidNamesTheSysfsDirectory() throws IOException {
        try (BtrfsFilesystem fs = BtrfsFilesystem.create(dir, "fs", IMAGE_BYTES)) {
            assertTrue(BtrfsSyscalls.isBtrfs(fs.root()));
            assertFalse(BtrfsSyscalls.isBtrfs(Path.of("/proc")));
            String fsid = btrfs.fsid(fs.root());
            assertTrue(fsid.matches("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), fsid);
            assertTrue(Files.isDirectory(Path.of("/sys/fs/btrfs", fsid)), fsid);
        }
    }

    @Test
    void aCreatedSubvolumeIsASubvolumeWithItsOwnId() throws IOException {
        try (BtrfsFilesystem fs = BtrfsFilesystem.create(dir, "fs", IMAGE_BYTES)) {
            Path root = fs.root();
            assertTrue(btrfs.isSubvolume(root));
            assertEquals(BtrfsSyscalls.FS_TREE_OBJECTID, btrfs.subvolumeId(root));

            Path sv = root.resolve("sv");
            btrfs.createSubvolume(sv);
            assertTrue(btrfs.isSubvolume(sv));
            long id = btrfs.subvolumeId(sv);
            assertEquals(256, id, "the first subvolume of a new filesystem");
            Files.writeString(sv.resolve("f"), "x");
            assertEquals(id, btrfs.subvolumeId(sv.resolve("f")), "a file is in its subvolume's tree");

            Path plain = Files.createDirectory(root.resolve("plain"));
            assertFalse(btrfs.isSubvolume(plain));
            assertFalse(btrfs.isSubvolume(Path.of("/proc")));

            Path nested = sv.resolve("nested");
            btrfs.createSubvolume(nested);
            assertEquals(257, btrfs.subvolumeId(nested));

            ErrnoException e = assertThrows(ErrnoException.class, () -> btrfs.createSubvolume(sv));
            assertEquals(Errno.EEXIST, e.errno());
            assertTrue(e.getMessage().contains(sv.toString()), e.getMessage());
        }
    }

    @Test
    void aReadOnlySnapshotRefusesWritesWithErofsUntilMadeWritable() throws IOException {
        try (BtrfsFilesystem fs = BtrfsFilesystem.create(dir, "fs", IMAGE_BYTES)) {
            Path sv = fs.root().resolve("sv");
            btrfs.createSubvolume(sv);
            Files.writeString(sv.resolve("f"), "source");

            Path snap = fs.root().resolve("snap");
            btrfs.snapshot(sv, snap, true);
            assertTrue(btrfs.isSubvolume(snap));
            assertTrue(btrfs.isReadOnly(snap));
            assertFalse(btrfs.isReadOnly(sv));
            assertEquals("source", Files.readString(snap.resolve("f")));

            ErrnoException rewrite = assertThrows(ErrnoException.class,
                    () -> Syscalls.open(snap.resolve("f"), LinuxConstants.O_WRONLY, 0));
            assertEquals(Errno.EROFS, rewrite.errno());
            ErrnoException create = assertThrows(ErrnoException.class,
                    () -> Syscalls.open(snap.resolve("new"), LinuxConstants.O_WRONLY | LinuxConstants.O_CREAT, 0644));
            assertEquals(Errno.EROFS, create.errno());

            btrfs.setReadOnly(snap, false);
            assertFalse(btrfs.isReadOnly(snap));
            Files.writeString(snap.resolve("new"), "now writable");
            btrfs.setReadOnly(snap, true);
            assertTrue(btrfs.isReadOnly(snap));
        }
    }

    @Test
    void aWritableSnapshotIsIndependentOfItsSource() throws IOException {
        try (BtrfsFilesystem fs = BtrfsFilesystem.create(dir, "fs", IMAGE_BYTES)) {
            Path sv = fs.root().resolve("sv");
            btrfs.createSubvolume(sv);
            Files.createDirectories(sv.resolve("d"));
            Files.writeString(sv.resolve("d/f"), "source");

            Path clone = fs.root().resolve("clone");
            btrfs.snapshot(sv, clone, false);
            assertFalse(btrfs.isReadOnly(clone));
            assertNotEquals(btrfs.subvolumeId(sv), btrfs.subvolumeId(clone));

            Files.writeString(clone.resolve("d/f"), "changed in the clone");
            Files.writeString(clone.resolve("only-in-clone"), "x");
            Files.writeString(sv.resolve("only-in-source"), "y");

            assertEquals("source", Files.readString(sv.resolve("d/f")));
            assertEquals("changed in the clone", Files.readString(clone.resolve("d/f")));
            assertFalse(Files.exists(sv.resolve("only-in-clone")));
            assertFalse(Files.exists(clone.resolve("only-in-source")));
        }
    }

    @Test
    void deletingASubvolumeRemovesItWithEverythingInItReadOnlyOrNot() throws IOException {
        try (BtrfsFilesystem fs = BtrfsFilesystem.create(dir, "fs", IMAGE_BYTES)) {
            Path sv = fs.root().resolve("sv");
            btrfs.createSubvolume(sv);
            Files.createDirectories(sv.resolve("a/b/c"));
            Files.writeString(sv.resolve("a/b/c/f"), "data");
            Files.write(sv.resolve("big"), new byte[(int) (4 * MiB)]);
            Files.createSymbolicLink(sv.resolve("link"), Path.of("a/b"));

            Path ro = fs.root().resolve("ro");
            btrfs.snapshot(sv, ro, true);
            btrfs.deleteSubvolume(ro);
            assertFalse(Files.exists(ro));

            btrfs.deleteSubvolume(sv);
            assertFalse(Files.exists(sv));
        }
    }

    @Test
    void aSubvolumeWithANestedSubvolumeIsNotDeleted() throws IOException {
        try (BtrfsFilesystem fs = BtrfsFilesystem.create(dir, "fs", IMAGE_BYTES)) {
            Path sv = fs.root().resolve("sv");
            btrfs.createSubvolume(sv);
            btrfs.createSubvolume(sv.resolve("inner"));
            ErrnoException e = assertThrows(ErrnoException.class, () -> btrfs.deleteSubvolume(sv));
            assertEquals(Errno.ENOTEMPTY, e.errno());
            btrfs.deleteSubvolume(sv.resolve("inner"));
            btrfs.deleteSubvolume(sv);
            assertFalse(Files.exists(sv));
        }
    }

    @Test
    void quotasAreOffOnANewFilesystemAndOnceEnabledReportTheirMode() throws IOException {
        try (BtrfsFilesystem simple = BtrfsFilesystem.create(dir, "simple", IMAGE_BYTES);
             BtrfsFilesystem full = BtrfsFilesystem.create(dir, "full", IMAGE_BYTES)) {
            assertEquals(QuotaMode.DISABLED, btrfs.quotaMode(simple.root()));
            enableSimpleQuota(simple.root());
            assertEquals(QuotaMode.SIMPLE, btrfs.quotaMode(simple.root()));

            btrfs.enableQuota(full.root(), false);
            assertEquals(QuotaMode.QGROUP, btrfs.quotaMode(full.root()));
            // quotas already on keep their mode
            btrfs.enableQuota(full.root(), true);
            assertEquals(QuotaMode.QGROUP, btrfs.quotaMode(full.root()));
        }
    }

    @Test
    void underSimpleQuotasWritesAndFallocatePastTheLimitFailWithEdquot() throws IOException {
        try (BtrfsFilesystem fs = BtrfsFilesystem.create(dir, "fs", IMAGE_BYTES)) {
            enableSimpleQuota(fs.root());
            writesAndFallocatePastTheLimitFailWithEdquot(fs.root());
        }
    }

    @Test
    void underFullQgroupsWritesAndFallocatePastTheLimitFailWithEdquot() throws IOException {
        try (BtrfsFilesystem fs = BtrfsFilesystem.create(dir, "fs", IMAGE_BYTES)) {
            btrfs.enableQuota(fs.root(), false);
            writesAndFallocatePastTheLimitFailWithEdquot(fs.root());
        }
    }

    private void writesAndFallocatePastTheLimitFailWithEdquot(Path root) throws IOException {
        Path sv = root.resolve("sv");
        btrfs.createSubvolume(sv);
        long id = btrfs.subvolumeId(sv);
        btrfs.limit(root, id, 64 * MiB);
        assertEquals(64 * MiB, btrfs.usage(root, id).maxReferenced());
        assertEquals(0, btrfs.usage(root, id).maxExclusive());

        Outcome out = write(sv.resolve("data"), 100 * MiB);
        assertNotNull(out.failure(), "wrote " + out.written() + " bytes past a 64 MiB limit");
        assertTrue(out.failure().getMessage().contains("Disk quota exceeded"), out.failure().toString());
        assertTrue(out.written() > 48 * MiB && out.written() <= 64 * MiB, "stopped after " + out.written());

        btrfs.sync(root);
        QgroupUsage used = btrfs.usage(root, id);
        assertTrue(used.referencedBytes() > 48 * MiB && used.referencedBytes() <= 64 * MiB, used.toString());

        // a second subvolume, since a full qgroup refuses even the metadata of a new file
        Path sv2 = root.resolve("sv2");
        btrfs.createSubvolume(sv2);
        long id2 = btrfs.subvolumeId(sv2);
        btrfs.limit(root, id2, 64 * MiB);
        int fd = Syscalls.open(sv2.resolve("preallocated"), LinuxConstants.O_WRONLY | LinuxConstants.O_CREAT, 0644);
        try {
            assertEquals(-1, LibC.fallocate(fd, 0, 0, 100 * MiB));
            assertEquals(Errno.EDQUOT, LibC.errno());
            assertEquals(0, LibC.fallocate(fd, 0, 0, 32 * MiB), "within the limit");
        } finally {
            Syscalls.close(fd);
        }
    }

    @Test
    void usageGrowsOnceWritesAreCommitted() throws IOException {
        try (BtrfsFilesystem fs = BtrfsFilesystem.create(dir, "fs", IMAGE_BYTES)) {
            enableSimpleQuota(fs.root());
            Path sv = fs.root().resolve("sv");
            btrfs.createSubvolume(sv);
            long id = btrfs.subvolumeId(sv);
            btrfs.sync(fs.root());
            QgroupUsage before = btrfs.usage(fs.root(), id);
            assertTrue(before.referencedBytes() < MiB, before.toString());
            assertEquals(0, before.maxReferenced());

            Outcome out = write(sv.resolve("data"), 20 * MiB);
            assertNull(out.failure());
            btrfs.sync(fs.root());
            QgroupUsage after = btrfs.usage(fs.root(), id);
            assertTrue(after.referencedBytes() >= 20 * MiB, after.toString());
            assertTrue(after.exclusiveBytes() >= 20 * MiB, after.toString());
        }
    }

    @Test
    void raisingTheLimitAllowsMoreAndZeroRemovesIt() throws IOException {
        try (BtrfsFilesystem fs = BtrfsFilesystem.create(dir, "fs", IMAGE_BYTES)) {
            enableSimpleQuota(fs.root());
            Path sv = fs.root().resolve("sv");
            btrfs.createSubvolume(sv);
            long id = btrfs.subvolumeId(sv);
            btrfs.limit(fs.root(), id, 32 * MiB);
            assertNotNull(write(sv.resolve("a"), 48 * MiB).failure());

            btrfs.limit(fs.root(), id, 96 * MiB);
            assertEquals(96 * MiB, btrfs.usage(fs.root(), id).maxReferenced());
            Outcome more = write(sv.resolve("b"), 40 * MiB);
            assertNull(more.failure(), () -> "after raising the limit: " + more.failure());
            assertNotNull(write(sv.resolve("c"), 40 * MiB).failure(), "the raised limit holds");

            btrfs.limit(fs.root(), id, 0);
            assertEquals(0, btrfs.usage(fs.root(), id).maxReferenced());
            Outcome unlimited = write(sv.resolve("d"), 40 * MiB);
            assertNull(unlimited.failure(), () -> "without a limit: " + unlimited.failure());
        }
    }

    @Test
    void theQgroupOfADeletedSubvolumeIsBusyUntilTheCleanerHasRunThenDestroyed() throws Exception {
        try (BtrfsFilesystem simple = BtrfsFilesystem.create(dir, "simple", IMAGE_BYTES);
             BtrfsFilesystem full = BtrfsFilesystem.create(dir, "full", IMAGE_BYTES)) {
            enableSimpleQuota(simple.root());
            btrfs.enableQuota(full.root(), false);
            for (Path root : new Path[] {simple.root(), full.root()}) {
                Path sv = root.resolve("sv");
                btrfs.createSubvolume(sv);
                long id = btrfs.subvolumeId(sv);
                assertNull(write(sv.resolve("data"), 16 * MiB).failure());
                btrfs.sync(root);

                btrfs.deleteSubvolume(sv);
                assertThrows(QgroupBusyException.class, () -> btrfs.destroyQgroup(root, id),
                        "the deleted subvolume's extents are still accounted");
                destroyOnceNotBusy(root, id);
                assertFalse(Files.exists(qgroupDir(root, id)));
                btrfs.destroyQgroup(root, id); // already gone
            }
        }
    }

    @Test
    void underSimpleQuotasASnapshotIsChargedOnlyForWhatItWritesItself() throws IOException {
        try (BtrfsFilesystem fs = BtrfsFilesystem.create(dir, "fs", IMAGE_BYTES)) {
            enableSimpleQuota(fs.root());
            Path sv = fs.root().resolve("sv");
            btrfs.createSubvolume(sv);
            assertNull(write(sv.resolve("data"), 20 * MiB).failure());
            Path clone = fs.root().resolve("clone");
            btrfs.snapshot(sv, clone, false);
            long cloneId = btrfs.subvolumeId(clone);
            btrfs.sync(fs.root());
            assertTrue(btrfs.usage(fs.root(), cloneId).referencedBytes() < MiB,
                    () -> "shared extents stay charged to their writer: " + usageOf(fs.root(), cloneId));

            assertNull(write(clone.resolve("own"), 8 * MiB).failure());
            btrfs.sync(fs.root());
            QgroupUsage u = btrfs.usage(fs.root(), cloneId);
            assertTrue(u.referencedBytes() >= 8 * MiB && u.referencedBytes() < 10 * MiB, u.toString());
            assertEquals(u.referencedBytes(), u.exclusiveBytes());
        }
    }

    @Test
    void underFullQgroupsASnapshotReferencesWhatItShares() throws IOException {
        try (BtrfsFilesystem fs = BtrfsFilesystem.create(dir, "fs", IMAGE_BYTES)) {
            btrfs.enableQuota(fs.root(), false);
            Path sv = fs.root().resolve("sv");
            btrfs.createSubvolume(sv);
            assertNull(write(sv.resolve("data"), 20 * MiB).failure());
            Path clone = fs.root().resolve("clone");
            btrfs.snapshot(sv, clone, false);
            long cloneId = btrfs.subvolumeId(clone);
            btrfs.sync(fs.root());
            QgroupUsage u = btrfs.usage(fs.root(), cloneId);
            assertTrue(u.referencedBytes() >= 20 * MiB, u.toString());
            assertTrue(u.exclusiveBytes() < MiB, u.toString());

            // the shared 20 MiB count against the clone's referenced limit
            btrfs.limit(fs.root(), cloneId, 24 * MiB);
            Outcome out = write(clone.resolve("own"), 8 * MiB);
            assertNotNull(out.failure(), "wrote 8 MiB on top of 20 MiB shared under a 24 MiB limit");
        }
    }

    private void enableSimpleQuota(Path root) throws ErrnoException {
        try {
            btrfs.enableQuota(root, true);
        } catch (SimpleQuotaUnsupportedException e) {
            Assumptions.abort("skipped: the kernel has no btrfs simple quotas (Linux 6.7 and later): " + e.getMessage());
        }
    }

    private void destroyOnceNotBusy(Path root, long id) throws IOException, InterruptedException {
        BoundedWait.upTo(Duration.ofSeconds(60)).every(Duration.ofMillis(100)).until("qgroup 0/" + id
                + " to be destroyed once the cleaner dropped its usage", () -> {
                    // the commit wakes the cleaner, which drops the deleted tree and with it the qgroup's usage
                    btrfs.sync(root);
                    try {
                        btrfs.destroyQgroup(root, id);
                        return true;
                    } catch (QgroupBusyException e) {
                        return false;
                    }
                });
    }

    private Path qgroupDir(Path root, long id) throws ErrnoException {
        return Path.of("/sys/fs/btrfs", btrfs.fsid(root), "qgroups", "0_" + id);
    }

    private String usageOf(Path root, long id) {
        try {
            return btrfs.usage(root, id).toString();
        } catch (ErrnoException e) {
            return e.toString();
        }
    }

    private record Outcome(long written, IOException failure) {}

    /**
     * Writes up to {@code bytes} in 1 MiB pieces, syncing every 8 MiB in case the limit were only checked at commit.
     * Returns how much went in and what stopped it.
     */
    private static Outcome write(Path file, long bytes) throws IOException {
        ByteBuffer chunk = ByteBuffer.allocateDirect((int) MiB);
        for (int i = 0; i < chunk.capacity(); i++) {
            chunk.put(i, (byte) (i * 31 + 7));
        }
        long written = 0;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            while (written < bytes) {
                chunk.clear();
                written += ch.write(chunk, written);
                if (written % (8 * MiB) == 0) {
                    ch.force(false);
                }
            }
            ch.force(false);
        } catch (IOException e) {
            return new Outcome(written, e);
        }
        return new Outcome(written, null);
    }
}
