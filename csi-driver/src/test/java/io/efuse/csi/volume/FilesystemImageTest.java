package io.efuse.csi.volume;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.efuse.csi.sys.DiskTempDirFactory;
import io.efuse.csi.sys.LinuxConstants;
import io.efuse.csi.sys.LoopDevices;
import io.efuse.csi.sys.LoopDevices.LoopDevice;
import io.efuse.csi.sys.MountTable;
import io.efuse.csi.sys.Syscalls;
import io.efuse.csi.testing.BoundedWait;
import io.efuse.csi.testing.RequiresRoot;
import io.efuse.csi.volume.FilesystemImage.ImageFs;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Volumes as ext4 and XFS images on loop devices, on this machine's disk. */
@RequiresRoot
class FilesystemImageTest {
    private static final long MIB = 1L << 20;

    @TempDir(factory = DiskTempDirFactory.class)
    Path tmp;

    private final LoopDevices loops = new LoopDevices();
    private final FilesystemImage images = new FilesystemImage();

    @BeforeEach
    void needsRootAndTools() {
        Assumptions.assumeTrue(Files.exists(Path.of("/dev/loop-control")),
                "skipped: no /dev/loop-control (the loop driver is not loaded, or /dev is not the host's)");
        Assumptions.assumeTrue(FilesystemImage.findTool("mkfs.ext4").isPresent(),
                "skipped: mkfs.ext4 is missing (e2fsprogs)");
        Assumptions.assumeTrue(FilesystemImage.findTool("mkfs.xfs").isPresent(),
                "skipped: mkfs.xfs is missing (xfsprogs)");
    }

    @AfterEach
    void unmountLeftovers() throws IOException {
        // a failed assertion leaves mounts behind; innermost first
        Path root = tmp.toRealPath();
        List<MountTable.Entry> all = MountTable.read();
        for (int i = all.size() - 1; i >= 0; i--) {
            if (Path.of(all.get(i).mountPoint()).startsWith(root)) {
                Syscalls.umount(Path.of(all.get(i).mountPoint()), LinuxConstants.MNT_DETACH);
            }
        }
    }

    @Test
    void badInputIsRefusedWithItsReason() throws Exception {
        VolumeException small = assertThrows(VolumeException.class,
                () -> images.create(tmp.resolve("x.img"), 299 * MIB, ImageFs.XFS));
        assertEquals(VolumeException.Reason.OUT_OF_RANGE, small.reason());
        assertTrue(small.getMessage().contains("300 MiB"), small.getMessage());
        assertEquals(VolumeException.Reason.OUT_OF_RANGE, assertThrows(VolumeException.class,
                () -> images.create(tmp.resolve("e.img"), 4 * MIB, ImageFs.EXT4)).reason());
        assertFalse(Files.exists(tmp.resolve("x.img")));

        Path missing = tmp.resolve("missing.img");
        Path mnt = tmp.resolve("mnt");
        assertEquals(VolumeException.Reason.NOT_FOUND, assertThrows(VolumeException.class,
                () -> images.mount(missing, mnt, ImageFs.EXT4, false)).reason());
        assertEquals(VolumeException.Reason.NOT_FOUND, assertThrows(VolumeException.class,
                () -> images.grow(missing, mnt, 64 * MIB, ImageFs.EXT4)).reason());
        assertEquals(VolumeException.Reason.NOT_FOUND, assertThrows(VolumeException.class,
                () -> images.copy(missing, tmp.resolve("copy.img"), null)).reason());
        assertFalse(images.mounted(missing, mnt));

        Path img = tmp.resolve("small.img");
        assertEquals(8 * MIB, images.create(img, 8 * MIB - 100, ImageFs.EXT4), "rounded up to 4 KiB");
        assertEquals(VolumeException.Reason.ALREADY_EXISTS, assertThrows(VolumeException.class,
                () -> images.create(img, 8 * MIB, ImageFs.EXT4)).reason());
        assertEquals(VolumeException.Reason.OUT_OF_RANGE, assertThrows(VolumeException.class,
                () -> images.grow(img, null, 4 * MIB, ImageFs.EXT4)).reason());
        assertEquals(ImageFs.XFS, ImageFs.parse("XFS"));
        assertThrows(IllegalArgumentException.class, () -> ImageFs.parse("btrfs"));
    }

    @Test
    void anImageWithoutAFilesystemFailsToMountAndLeavesNoDevice() throws Exception {
        Path img = tmp.resolve("zeros.img");
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
            f.setLength(64 * MIB);
        }
        Path mnt = tmp.resolve("mnt");
        VolumeException e = assertThrows(VolumeException.class, () -> images.mount(img, mnt, ImageFs.EXT4, false));
        assertEquals(VolumeException.Reason.INTERNAL, e.reason());
        assertEquals(List.of(), loops.backing(img), "the failed mount's device was freed");
        assertFalse(MountTable.isMountPoint(mnt));
    }

    @ParameterizedTest
    @EnumSource(ImageFs.class)
    void theFilesystemHoldsTheSizeGrowsOnlineAndCopiesMountBesideTheOriginal(ImageFs fs) throws Exception {
        Path img = tmp.resolve("vol.img");
        Path mnt = tmp.resolve("mnt");
        assertEquals(512 * MIB, images.create(img, 512 * MIB, fs));
        assertTrue(allocated(img) < 80 * MIB, "a new image is sparse: " + allocated(img));
        assertEquals(512 * MIB, FilesystemImage.filesystemBytes(img, fs));

        images.mount(img, mnt, fs, false);
        assertTrue(images.mounted(img, mnt));
        images.mount(img, mnt, fs, false); // mounted already: nothing to do
        assertEquals(VolumeException.Reason.IN_USE, assertThrows(VolumeException.class,
                () -> images.mount(img, tmp.resolve("elsewhere"), fs, false)).reason(), "one image, one mount");
        List<LoopDevice> devs = loops.backing(img);
        assertEquals(1, devs.size(), "one device backs the image: " + devs);
        assertTrue(devs.get(0).directIo(), "the loop device does direct I/O to a file on "
                + Files.getFileStore(tmp).type());
        assertTrue(loops.autoclear(devs.get(0).number()));

        Usage fresh = images.usage(mnt);
        assertTrue(fresh.bytesTotal() > 400 * MIB && fresh.bytesTotal() <= 512 * MIB, "statfs shows the size: "
                + fresh);
        assertTrue(fresh.inodesTotal() > 10_000, fresh.toString());

        byte[] data = new byte[4 * (int) MIB];
        new Random(42).nextBytes(data);
        Files.write(mnt.resolve("data"), data);

        // ext4's online resize needs CAP_SYS_RESOURCE (XFS's, CAP_SYS_ADMIN only); root in a container may lack it
        boolean online = fs == ImageFs.XFS || Syscalls.hasCapability(Syscalls.CAP_SYS_RESOURCE);
        ByteBuffer chunk = ByteBuffer.allocate((int) MIB);
        try (FileChannel open = FileChannel.open(mnt.resolve("open"), StandardOpenOption.CREATE_NEW,
                StandardOpenOption.WRITE)) {
            write(open, chunk, 8); // the file stays open across the grow

            long written = 0;
            IOException full = null;
            try (FileChannel fill = FileChannel.open(mnt.resolve("fill"), StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.WRITE)) {
                while (written < 1024 * MIB) {
                    chunk.clear();
                    written += fill.write(chunk);
                }
                fill.force(true);
            } catch (IOException e) {
                full = e;
            }
            assertTrue(full != null && VolumeException.outOfSpace(full), "the filesystem ran out of space after "
                    + written + " bytes: " + full);
            assertTrue(written > 400 * MIB && written < 512 * MIB, "written " + written);
            assertTrue(allocated(img) <= 512 * MIB, "the host allocated no more than the image's size: "
                    + allocated(img));
            assertTrue(allocated(img) >= written, "the data is in the image itself (direct I/O): " + allocated(img)
                    + " < " + written);
            Usage filled = images.usage(mnt);
            assertTrue(filled.bytesAvailable() < 4 * MIB, "full: " + filled);
            chunk.clear();
            IOException stillFull = assertThrows(IOException.class, () -> {
                write(open, chunk, 8);
                open.force(true);
            });
            assertTrue(VolumeException.outOfSpace(stillFull), stillFull.toString());
            open.truncate(8 * MIB); // what got in before the refusal
            open.position(8 * MIB);

            if (online) {
                assertTrue(images.grow(img, mnt, 768 * MIB, fs));
                assertGrown(img, mnt, fresh);
                write(open, chunk, 200); // the open file takes the space the grow added
                open.force(true);
            } else {
                VolumeException denied = assertThrows(VolumeException.class,
                        () -> images.grow(img, mnt, 768 * MIB, fs));
                assertTrue(denied.getMessage().contains("CAP_SYS_RESOURCE"), denied.getMessage());
            }
        }
        if (!online) {
            System.err.println("FilesystemImageTest: no CAP_SYS_RESOURCE here, so ext4 grows offline in this run");
            images.unmount(mnt);
            awaitDetached(img);
            assertTrue(images.grow(img, null, 768 * MIB, fs));
            images.mount(img, mnt, fs, false);
            assertGrown(img, mnt, fresh);
            try (FileChannel open = FileChannel.open(mnt.resolve("open"), StandardOpenOption.WRITE)) {
                open.position(8 * MIB);
                write(open, chunk, 200);
                open.force(true);
            }
        }
        assertEquals(208 * MIB, Files.size(mnt.resolve("open")));
        images.grow(img, mnt, 768 * MIB, fs); // the same size again: nothing changes
        assertEquals(768 * MIB, Files.size(img));

        Path copy = tmp.resolve("copy.img");
        FilesystemImage.CopyResult r = images.copy(img, copy, mnt);
        assertFalse(r.reflinked(), "ext4 (the test's disk) has no reflinks: the copy is a sparse one");
        assertTrue(r.bytesCopied() >= 600 * MIB, r.toString());
        assertEquals(768 * MIB, Files.size(copy));
        Files.writeString(mnt.resolve("after-copy"), "not in the copy");

        assertEquals(VolumeException.Reason.IN_USE, assertThrows(VolumeException.class,
                () -> images.mount(copy, mnt, fs, false)).reason(), "not over another mount");
        Path mnt2 = tmp.resolve("mnt2");
        images.mount(copy, mnt2, fs, false);
        assertTrue(images.mounted(copy, mnt2));
        assertTrue(images.mounted(img, mnt), "the original stays mounted beside its copy");
        assertFalse(images.mounted(img, mnt2));
        assertArrayEquals(data, Files.readAllBytes(mnt2.resolve("data")));
        assertEquals(208 * MIB, Files.size(mnt2.resolve("open")));
        assertFalse(Files.exists(mnt2.resolve("after-copy")));
        Files.writeString(mnt2.resolve("only-in-copy"), "x");
        assertFalse(Files.exists(mnt.resolve("only-in-copy")));

        int dev = loops.backing(img).get(0).number();
        int dev2 = loops.backing(copy).get(0).number();
        images.unmount(mnt2);
        images.unmount(mnt);
        images.unmount(mnt); // unmounted already
        assertFalse(images.mounted(img, mnt));
        awaitDetached(img);
        awaitDetached(copy);
        assertEquals(768 * MIB, FilesystemImage.filesystemBytes(img, fs));
        assertEquals(768 * MIB, FilesystemImage.filesystemBytes(copy, fs));

        // read-only: the device and the mount refuse writes
        images.mount(copy, mnt2, fs, true);
        assertEquals("1", Files.readString(Path.of("/sys/block/loop" + loops.backing(copy).get(0).number(), "ro"))
                .strip());
        assertArrayEquals(data, Files.readAllBytes(mnt2.resolve("data")));
        assertThrows(IOException.class, () -> Files.writeString(mnt2.resolve("ro"), "x"));
        images.unmount(mnt2);
        awaitDetached(copy);
    }

    @ParameterizedTest
    @EnumSource(ImageFs.class)
    void aCopyTakenWithoutAFreezeNeedsRecoveryAndStillMountsReadOnly(ImageFs fs) throws Exception {
        Path img = tmp.resolve("dirty.img");
        Path mnt = tmp.resolve("mnt");
        images.create(img, 320 * MIB, fs);
        images.mount(img, mnt, fs, false);
        Files.writeString(mnt.resolve("committed"), "in the journal", StandardOpenOption.CREATE_NEW,
                StandardOpenOption.WRITE, StandardOpenOption.SYNC);
        Path copy = tmp.resolve("dirty-copy.img");
        images.copy(img, copy, null); // no mount point given: no freeze, the copy's journal (log) is not clean

        Path mnt2 = tmp.resolve("mnt2");
        images.mount(copy, mnt2, fs, true);
        assertEquals("in the journal", Files.readString(mnt2.resolve("committed")));
        assertThrows(IOException.class, () -> Files.writeString(mnt2.resolve("ro"), "x"));
        images.unmount(mnt2);
        images.unmount(mnt);
        awaitDetached(img);
        awaitDetached(copy);
    }

    @Test
    void aSparseCopyKeepsItsHolesOnTheSameDiskAndAcrossToATmpfs() throws Exception {
        Path img = tmp.resolve("sparse.img");
        Path mnt = tmp.resolve("mnt");
        images.create(img, 512 * MIB, ImageFs.EXT4);
        images.mount(img, mnt, ImageFs.EXT4, false);
        byte[] data = new byte[8 * (int) MIB];
        new Random(7).nextBytes(data);
        Files.write(mnt.resolve("data"), data);

        images.neverReflink = true;
        Path same = tmp.resolve("same.img");
        FilesystemImage.CopyResult r = images.copy(img, same, mnt);
        assertFalse(r.reflinked());
        assertTrue(allocated(same) < 64 * MIB && r.bytesCopied() < 64 * MIB,
                "only the data was copied: " + r + ", " + allocated(same) + " allocated");
        assertEquals(512 * MIB, Files.size(same));

        Path shm = Files.createDirectory(tmp.resolve("shm"));
        Syscalls.mount("tmpfs", shm, "tmpfs", 0, "size=1g");
        Path other = shm.resolve("other.img");
        images.neverReflink = false; // FICLONE fails across filesystems (EXDEV), and so does copy_file_range here
        r = images.copy(img, other, mnt);
        assertFalse(r.reflinked());
        assertTrue(allocated(other) < 64 * MIB, "holes stay holes on the tmpfs: " + allocated(other));
        assertEquals(512 * MIB, Files.size(other));
        images.unmount(mnt);

        Path mntOther = tmp.resolve("mnt-other");
        images.mount(other, mntOther, ImageFs.EXT4, false);
        assertArrayEquals(data, Files.readAllBytes(mntOther.resolve("data")));
        images.unmount(mntOther);
        Path mntSame = tmp.resolve("mnt-same");
        images.mount(same, mntSame, ImageFs.EXT4, true);
        assertArrayEquals(data, Files.readAllBytes(mntSame.resolve("data")));
        images.unmount(mntSame);
        Syscalls.umount(shm, 0);
    }

    @Test
    void aHostFilesystemWithReflinksClonesImagesAndBuffersWhereDirectIoCannotWork() throws Exception {
        // an XFS (reflink=1 by default) to hold the images, itself an image on a 4 KiB-sector device
        Path hostImg = tmp.resolve("host-xfs.img");
        Path host = tmp.resolve("host");
        images.create(hostImg, 2048 * MIB, ImageFs.XFS);
        images.mount(hostImg, host, ImageFs.XFS, false);

        Path img = host.resolve("vol.img");
        Path mnt = tmp.resolve("mnt");
        images.create(img, 512 * MIB, ImageFs.XFS);
        images.mount(img, mnt, ImageFs.XFS, false);
        byte[] data = new byte[16 * (int) MIB];
        new Random(3).nextBytes(data);
        Files.write(mnt.resolve("data"), data, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
                StandardOpenOption.SYNC); // in the image before the host's usage is taken

        Path clone = host.resolve("clone.img");
        long hostUsedBefore = images.usage(host).bytesUsed();
        FilesystemImage.CopyResult r = images.copy(img, clone, mnt);
        assertTrue(r.reflinked(), r.toString());
        long hostUsedAfter = images.usage(host).bytesUsed();
        assertTrue(hostUsedAfter - hostUsedBefore < 8 * MIB, "the clone shares the image's extents: "
                + (hostUsedAfter - hostUsedBefore) + " bytes more used");

        Path mnt2 = tmp.resolve("mnt2");
        images.mount(clone, mnt2, ImageFs.XFS, false); // same UUID as the mounted original: nouuid
        assertArrayEquals(data, Files.readAllBytes(mnt2.resolve("data")));
        Files.writeString(mnt2.resolve("new"), "x");
        assertFalse(Files.exists(mnt.resolve("new")));
        images.unmount(mnt2);
        images.unmount(mnt);

        // a device with 512-byte blocks over a filesystem on 4 KiB sectors: direct I/O would need 4 KiB
        // alignment the device's users do not promise, so the kernel buffers instead
        Path small = host.resolve("512.img");
        try (RandomAccessFile f = new RandomAccessFile(small.toFile(), "rw")) {
            f.setLength(16 * MIB);
        }
        LoopDevice d = loops.attach(small, false, true, 512);
        try {
            assertFalse(d.directIo(), "direct I/O was refused and the device is buffered: " + d);
            assertEquals(List.of(d), loops.backing(small));
        } finally {
            loops.detach(d);
        }
        images.unmount(host);
        awaitDetached(hostImg);
    }

    private void assertGrown(Path img, Path mnt, Usage before) throws IOException {
        assertEquals(768 * MIB, Files.size(img));
        Usage grown = images.usage(mnt);
        assertTrue(grown.bytesTotal() > before.bytesTotal() + 250 * MIB && grown.bytesTotal() <= 768 * MIB,
                "statfs shows the new size: " + grown);
    }

    private static void write(FileChannel c, ByteBuffer chunk, int mib) throws IOException {
        for (int i = 0; i < mib; i++) {
            chunk.clear();
            while (chunk.hasRemaining()) {
                c.write(chunk);
            }
        }
    }

    /** Waits for the kernel to free img's loop device, which it does once the last user has gone. */
    private void awaitDetached(Path img) throws Exception {
        BoundedWait.upTo(Duration.ofSeconds(5)).every(Duration.ofMillis(50)).until("the loop device of " + img
                + " to be freed", () -> loops.backing(img).isEmpty());
    }

    private static long allocated(Path p) throws IOException {
        return Syscalls.statx(p).blocks() * 512;
    }
}
