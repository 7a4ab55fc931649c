package io.efuse.csi.fs;

import static org.junit.jupiter.api.Assertions.*;

import io.efuse.csi.fuse.FuseOpcode;
import io.efuse.csi.sys.MountTable;
import io.efuse.csi.testing.RequiresFuse;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

@RequiresFuse
class EfuseMountUringTest {
    @TempDir
    Path tmp;
    Path backing;
    Path mnt;

    @BeforeEach
    void dirs() throws Exception {
        backing = Files.createDirectory(tmp.resolve("backing"));
        mnt = Files.createDirectory(tmp.resolve("mnt"));
    }

    @ParameterizedTest
    @EnumSource(value = Tier.class, names = {"CLASSIC", "PASSTHROUGH"})
    void uringQueuesServeFileOperationsOnEitherTier(Tier tier) throws Exception {
        try (UringSwitch on = UringSwitch.on();
                EfuseMount m = EfuseMount.mount(MountOptions.builder(backing, mnt).tier(tier).queues(Queues.URING)
                        .build())) {
            assertEquals(Queues.URING, m.queues());
            assertEquals(tier, m.tier());

            byte[] data = new byte[3 * 1024 * 1024 + 123];
            new Random(7).nextBytes(data);
            Files.write(mnt.resolve("data"), data);
            assertArrayEquals(data, Files.readAllBytes(backing.resolve("data")));
            assertArrayEquals(data, Files.readAllBytes(mnt.resolve("data")));
            // Reads and writes at offsets, through one descriptor.
            try (FileChannel ch = FileChannel.open(mnt.resolve("data"), StandardOpenOption.READ,
                    StandardOpenOption.WRITE)) {
                ch.write(ByteBuffer.wrap("patch".getBytes()), 1_000_000);
                ByteBuffer back = ByteBuffer.allocate(5);
                ch.read(back, 1_000_000);
                assertEquals("patch", new String(back.array()));
                ch.truncate(2_000_000);
            }
            assertEquals(2_000_000, Files.size(backing.resolve("data")));

            Path dir = Files.createDirectories(mnt.resolve("a/b"));
            List<String> names = new ArrayList<>();
            for (int i = 0; i < 50; i++) {
                Files.writeString(dir.resolve("file-with-a-rather-long-name-to-fill-the-payload-" + i), "n" + i);
            }
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
                ds.forEach(p -> names.add(p.getFileName().toString()));
            }
            assertEquals(50, names.size());
            Files.move(dir.resolve("file-with-a-rather-long-name-to-fill-the-payload-7"), mnt.resolve("moved"));
            assertEquals("n7", Files.readString(backing.resolve("moved")));
            Files.createSymbolicLink(mnt.resolve("link"), Path.of("moved"));
            assertEquals(Path.of("moved"), Files.readSymbolicLink(mnt.resolve("link")));
            assertEquals("n7", Files.readString(mnt.resolve("link")));
            Files.delete(mnt.resolve("link"));
            assertFalse(Files.exists(backing.resolve("link"), java.nio.file.LinkOption.NOFOLLOW_LINKS));
            assertTrue(Files.getFileStore(mnt).getTotalSpace() > 0);
            assertThrows(java.nio.file.NoSuchFileException.class, () -> Files.readString(mnt.resolve("missing")));
            assertThrows(java.nio.file.DirectoryNotEmptyException.class, () -> Files.delete(mnt.resolve("a")));

            assertTrue(m.requestsOverUring() > 0, "the io_uring queues served requests");
            assertTrue(m.requests(FuseOpcode.LOOKUP) > 0);
            assertTrue(m.requests(FuseOpcode.CREATE) >= 50);
            long overDev = totalRequests(m) - m.requestsOverUring();
            // Only what the kernel never sends over io_uring (FORGET, INTERRUPT) or sent before the
            // queues registered may arrive on /dev/fuse.
            long forgets = m.requests(FuseOpcode.FORGET) + m.requests(FuseOpcode.BATCH_FORGET);
            assertTrue(overDev <= forgets + 2, "requests over /dev/fuse: " + overDev + ", forgets: " + forgets);
        }
        assertFalse(MountTable.isMountPoint(mnt), "close() unmounts");
    }

    @Test
    void unmountEndsTheQueueThreads() throws Exception {
        EfuseMount m;
        try (UringSwitch on = UringSwitch.on()) {
            m = EfuseMount.mount(MountOptions.builder(backing, mnt).queues(Queues.URING).build());
        }
        try {
            Files.writeString(mnt.resolve("f"), "x");
            assertTrue(threadsNamed("fuse-uring-mnt-q") > 0);
        } finally {
            m.close();
        }
        assertTrue(m.awaitUnmount(10, TimeUnit.SECONDS), "the session ends after unmount");
        assertFalse(m.alive());
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (threadsNamed("fuse-uring-mnt-q") > 0 && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
        assertEquals(0, threadsNamed("fuse-uring-mnt-q"), "no queue thread outlives its mount");
    }

    @Test
    void uringRequestedWhereUnavailableFailsClearly() throws Exception {
        Path off = Files.writeString(tmp.resolve("enable_uring"), "N\n");
        MountException e = assertThrows(MountException.class, () -> EfuseMount.mount(
                MountOptions.builder(backing, mnt).queues(Queues.URING).build(), off));
        assertEquals(MountException.Reason.QUEUES_UNAVAILABLE, e.reason());
        assertTrue(e.getMessage().contains("enable_uring is N"), e.getMessage());
        assertFalse(MountTable.isMountPoint(mnt), "nothing stays mounted");
    }

    @Test
    void autoServesOverDevFuseWhenUringIsOff() throws Exception {
        Path off = Files.writeString(tmp.resolve("enable_uring"), "N\n");
        try (EfuseMount m = EfuseMount.mount(MountOptions.builder(backing, mnt).build(), off)) {
            assertEquals(Queues.DEV, m.queues());
            Files.writeString(mnt.resolve("f"), "over /dev/fuse");
            assertEquals("over /dev/fuse", Files.readString(backing.resolve("f")));
            assertEquals(0, m.requestsOverUring());
        }
    }

    @Test
    void devQueuesNeverUseUringEvenWhenItIsOn() throws Exception {
        try (UringSwitch on = UringSwitch.on();
                EfuseMount m = EfuseMount.mount(MountOptions.builder(backing, mnt).queues(Queues.DEV).build())) {
            Files.writeString(mnt.resolve("f"), "x");
            assertEquals(Queues.DEV, m.queues());
            assertEquals(0, m.requestsOverUring());
        }
    }

    private static long totalRequests(EfuseMount m) {
        long n = 0;
        for (int op = 1; op < FuseOpcode.LIMIT; op++) {
            n += m.requests(op);
        }
        return n;
    }

    private static long threadsNamed(String prefix) {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().startsWith(prefix)).count();
    }
}
