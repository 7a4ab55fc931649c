package io.efuse.csi.volume;

import static org.junit.jupiter.api.Assertions.*;

import io.efuse.csi.sys.BtrfsSyscalls;
import io.efuse.csi.sys.LoopDevices;
import io.efuse.csi.sys.Syscalls;
import io.efuse.csi.testing.Mounts;
import io.efuse.csi.testing.RequiresRoot;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A btrfs pool on an image file for nodes without btrfs: made, found again, grown, and never formatted over. */
@RequiresRoot
class BtrfsPoolTest {
    private static final long MIB = 1 << 20;

    @TempDir
    Path tmp;

    private final BtrfsPool pool = new BtrfsPool(new LoopDevices());

    @BeforeEach
    void needsTools() {
        Assumptions.assumeTrue(Tools.find("mkfs.btrfs").isPresent(), "skipped: mkfs.btrfs (btrfs-progs) is missing");
    }

    @AfterEach
    void unmount() {
        Mounts.unmountEverythingUnder(tmp);
    }

    @Test
    void aPoolIsMadeOnFirstStartFoundAgainAfterARebootAndGrownWhenAskedForMore() throws Exception {
        Path image = tmp.resolve("pool.img");
        Path root = tmp.resolve("root");
        BackingStore store = BackingStore.open(root, new StorageOptions(null, "auto", image, 512 * MIB));
        assertTrue(BtrfsSyscalls.isBtrfs(root), "the root is the pool's btrfs");
        assertEquals(new BtrfsSyscalls().fsid(root), BtrfsPool.fsidOf(image),
                "the pool is known by the UUID in its image, whatever paths its loop device recorded");
        assertEquals(EngineKind.BTRFS, store.defaultEngine());
        String id = VolumeIds.volumeId("in-pool");
        store.createVolume(id, new Limits(64 * MIB, 0), null);
        Files.writeString(store.serve(id).resolve("kept"), "data");

        pool.ensure(image, 512 * MIB, root); // a restart with the pool mounted changes nothing
        Syscalls.umount(root, 0); // a reboot: the mount and its autoclear loop device are gone
        BackingStore again = BackingStore.open(root, new StorageOptions(null, "auto", image, 768 * MIB));
        assertEquals("data", Files.readString(again.serve(id).resolve("kept")), "the pool's volumes are back");
        assertTrue(Files.getFileStore(root).getTotalSpace() > 700 * MIB,
                "the pool grew to its new size: " + Files.getFileStore(root).getTotalSpace());
        pool.ensure(image, 1024 * MIB, root);
        assertTrue(Files.getFileStore(root).getTotalSpace() > 950 * MIB, "and grows while mounted");
    }

    @Test
    void anImageHoldingSomethingElseIsNeverFormattedAndBadSizesAreRefused() throws Exception {
        Path image = tmp.resolve("not-btrfs.img");
        byte[] data = new byte[(int) (300 * MIB)];
        data[12345] = 42;
        Files.write(image, data);
        VolumeException e = assertThrows(VolumeException.class, () -> pool.ensure(image, 512 * MIB,
                tmp.resolve("root")));
        assertEquals(VolumeException.Reason.INVALID, e.reason());
        assertEquals(300 * MIB, Files.size(image), "the file is left as it was");
        assertEquals(42, Files.readAllBytes(image)[12345]);

        VolumeException small = assertThrows(VolumeException.class, () -> pool.ensure(tmp.resolve("small.img"),
                64 * MIB, tmp.resolve("root2")));
        assertEquals(VolumeException.Reason.OUT_OF_RANGE, small.reason());
        assertFalse(Files.exists(tmp.resolve("small.img")));
    }

    @Test
    void aRootWithAnotherFilesystemMountedIsInUse() throws Exception {
        Path root = Files.createDirectories(tmp.resolve("busy"));
        Syscalls.mount("tmpfs", root, "tmpfs", 0, null);
        VolumeException e = assertThrows(VolumeException.class, () -> pool.ensure(tmp.resolve("p.img"), 512 * MIB,
                root));
        assertEquals(VolumeException.Reason.IN_USE, e.reason());
    }
}
