package io.efuse.csi.volume;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Kernel project quotas on a loop-mounted ext4 made with -O quota,project and mounted with prjquota. */
class ProjectQuotaTest {
    @TempDir
    Path tmp;

    @Test
    void aVolumeOnAQuotaFilesystemIsHeldToItsSizeAndItsInodes() throws IOException, VolumeException {
        try (QuotaFilesystem fs = QuotaFilesystem.create(tmp, 64L << 20)) {
            BackingStore store = BackingStore.open(fs.root());
            assertEquals(EngineKind.PROJECT_QUOTA, store.defaultEngine(), "ext4 with prjquota enforces project quotas");
            String id = VolumeIds.volumeId("quota");
            store.createVolume(id, new Limits(1 << 20, 100), null);
            Path dir = store.volumeDir(id);

            Files.write(dir.resolve("fits"), new byte[512 * 1024]);
            IOException full = assertThrows(IOException.class,
                    () -> Files.write(dir.resolve("too-big"), new byte[1 << 20]));
            assertTrue(full.getMessage().contains("quota") || full instanceof FileSystemException, full.toString());

            Usage u = store.usage(id, new Limits(1 << 20, 100));
            assertTrue(u.bytesUsed() >= 512 * 1024, "the kernel charged the written bytes: " + u);
            assertEquals(1 << 20, u.bytesTotal());
            assertEquals(1 << 20, Files.getFileStore(dir).getTotalSpace(), "statfs of the directory shows its size");

            store.resizeVolume(id, new Limits(4 << 20, 100));
            Files.deleteIfExists(dir.resolve("too-big"));
            Files.write(dir.resolve("now-fits"), new byte[2 << 20]);
            assertEquals(4 << 20, Files.getFileStore(dir).getTotalSpace());

            for (int i = 0; i < 200; i++) {
                try {
                    Files.createFile(dir.resolve("f" + i));
                } catch (IOException e) {
                    assertTrue(i >= 90 && i < 100, "the inode limit stopped creation at file " + i);
                    break;
                }
                assertFalse(i >= 100, "the inode limit of 100 was not enforced");
            }

            store.deleteVolume(id);
            assertFalse(Files.exists(dir));
        }
    }

    @Test
    void aFilesystemWithoutProjectQuotasIsDetectedAsSuch() throws IOException, VolumeException {
        BackingStore store = BackingStore.open(tmp.resolve("plain"));
        assertFalse(store.offers(EngineKind.PROJECT_QUOTA), "the test's temporary directory has no enforced project "
                + "quotas");
        String id = VolumeIds.volumeId("plain");
        store.createVolume(id, new Limits(1 << 20, 100), null, EngineKind.DAEMON);
        Files.writeString(store.volumeDir(id).resolve("a"), "12345");
        Usage u = store.usage(id, new Limits(1 << 20, 100));
        assertEquals(5, u.bytesUsed());
        assertEquals(2, u.inodesUsed());
    }
}
