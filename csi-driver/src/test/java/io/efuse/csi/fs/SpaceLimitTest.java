package io.efuse.csi.fs;

import static org.junit.jupiter.api.Assertions.*;

import io.efuse.csi.fuse.FuseOpcode;
import io.efuse.csi.testing.BoundedWait;
import io.efuse.csi.testing.ProcessRunner;
import io.efuse.csi.testing.RequiresFuse;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

@RequiresFuse
class SpaceLimitTest {
    private static final BoundedWait WAIT = BoundedWait.upTo(Duration.ofSeconds(10));
    private static final long MIB = 1 << 20;

    @TempDir
    Path tmp;
    Path backing;
    Path mnt;

    @BeforeEach
    void dirs() throws Exception {
        backing = Files.createDirectory(tmp.resolve("backing"));
        mnt = Files.createDirectory(tmp.resolve("mnt"));
    }

    private static void write(Path f, long offset, int n) throws IOException {
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocate(n);
            while (b.hasRemaining()) {
                ch.write(b, offset + b.position());
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = Tier.class, names = {"CLASSIC", "PASSTHROUGH"})
    void writesPastTheByteLimitFailWithEdquotAndDeletingGivesSpaceBack(Tier tier) throws Exception {
        Files.write(backing.resolve("existing"), new byte[256 * 1024]);
        try (EfuseMount m = EfuseMount.mount(MountOptions.builder(backing, mnt).tier(tier).limits(MIB, 0).build())) {
            var store = Files.getFileStore(mnt);
            assertEquals(MIB, store.getTotalSpace(), "df shows the volume's size");
            assertEquals(MIB - 256 * 1024, store.getUsableSpace());
            write(mnt.resolve("a"), 0, 512 * 1024);
            IOException full = assertThrows(IOException.class, () -> write(mnt.resolve("b"), 0, 512 * 1024));
            assertTrue(full.getMessage().contains("quota"), full.getMessage());
            // Overwriting inside a file costs nothing; growing it does.
            write(mnt.resolve("a"), 0, 512 * 1024);
            assertThrows(IOException.class, () -> write(mnt.resolve("a"), 600 * 1024, 300 * 1024));
            Files.delete(mnt.resolve("a"));
            write(mnt.resolve("c"), 0, 700 * 1024);
            assertEquals(700 * 1024, Files.size(backing.resolve("c")));
        }
    }

    private static String run(String... cmd) throws Exception {
        ProcessRunner.Result r = ProcessRunner.run(Duration.ofSeconds(60), cmd);
        return (r.exit() + " " + r.output().replaceAll(".*: ", "")).trim();
    }

    @ParameterizedTest
    @EnumSource(value = Tier.class, names = {"CLASSIC", "PASSTHROUGH"})
    void aSparseFileLargerThanTheVolumeCostsOnlyItsData(Tier tier) throws Exception {
        try (EfuseMount m = EfuseMount.mount(MountOptions.builder(backing, mnt).tier(tier).limits(MIB, 0).build())) {
            Path f = Files.createFile(mnt.resolve("sparse"));
            assertEquals("0", run("truncate", "-s", Long.toString(2 * MIB + 1), f.toString()), "a size makes no blocks");
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
                ch.write(ByteBuffer.allocate(1), 2 * MIB); // one block past the volume's size
                ch.write(ByteBuffer.allocate(4096), 0);
            }
            assertEquals(2 * MIB + 1, Files.size(f));
            var store = Files.getFileStore(mnt);
            assertEquals(MIB - 2 * 4096, store.getUsableSpace(), "only the two written blocks are charged");
            // Filling a hole is an allocation like any other.
            IOException full = assertThrows(IOException.class, () -> write(f, 8192, (int) MIB));
            assertTrue(full.getMessage().contains("quota"), full.getMessage());
        }
    }

    @ParameterizedTest
    @EnumSource(value = Tier.class, names = {"CLASSIC", "PASSTHROUGH"})
    void realDataPastTheLimitIsRefusedBufferedDirectAndFallocated(Tier tier) throws Exception {
        try (EfuseMount m = EfuseMount.mount(MountOptions.builder(backing, mnt).tier(tier).limits(MIB, 0).build())) {
            Path f = mnt.resolve("f");
            String buffered = run("dd", "if=/dev/zero", "of=" + f, "bs=256k", "count=8");
            assertTrue(buffered.startsWith("1 ") && buffered.contains("quota"), buffered);
            Files.delete(f);
            String direct = run("dd", "if=/dev/zero", "of=" + f, "bs=256k", "count=8", "oflag=direct");
            assertTrue(direct.startsWith("1 ") && direct.contains("quota"), direct);
            Files.delete(f);
            String fallocated = run("fallocate", "-l", "2M", f.toString());
            assertTrue(fallocated.startsWith("1 ") && fallocated.contains("quota"), fallocated);
            assertEquals("0", run("fallocate", "-l", "512K", f.toString()));
            assertEquals(MIB - 512 * 1024, Files.getFileStore(mnt).getUsableSpace(), "fallocate charges its range");
            // Punching a hole gives its blocks back; so does shrinking.
            assertEquals("0", run("fallocate", "-p", "-o", "0", "-l", "256K", f.toString()));
            assertEquals(MIB - 256 * 1024, Files.getFileStore(mnt).getUsableSpace());
            assertEquals("0", run("truncate", "-s", "0", f.toString()));
            assertEquals(MIB, Files.getFileStore(mnt).getUsableSpace());
        }
    }

    @ParameterizedTest
    @EnumSource(value = Tier.class, names = {"CLASSIC", "PASSTHROUGH"})
    void aHugeTruncateAnswersWhatTheBackingFilesystemAnswersNotEdquot(Tier tier) throws Exception {
        Path outside = Files.createFile(tmp.resolve("outside"));
        String native_ = run("truncate", "-s", "999999999999999", outside.toString());
        try (EfuseMount m = EfuseMount.mount(MountOptions.builder(backing, mnt).tier(tier).limits(MIB, 0).build())) {
            Path f = Files.createFile(mnt.resolve("f"));
            String mounted = run("truncate", "-s", "999999999999999", f.toString());
            assertEquals(native_, mounted, "as on the backing filesystem");
            assertFalse(mounted.contains("quota"), mounted);
            String past = pwrite(f, 999999999999999L);
            String pastNative = pwrite(outside, 999999999999999L);
            // Even on a full volume the size is checked first, as a filesystem does.
            write(mnt.resolve("fill"), 0, (int) MIB);
            assertEquals(pastNative, pwrite(f, 999999999999999L));
            assertEquals(pastNative, past, "a write past the largest file answers as on the backing filesystem");
        }
    }

    /** Writes 1 byte at offset with pwrite(2): "ok" or the errno's name. */
    private static String pwrite(Path f, long offset) throws Exception {
        return run("python3", "-c", "import os, errno, sys\ntry:\n fd = os.open(sys.argv[1], os.O_WRONLY)\n"
                + " os.pwrite(fd, b'x', int(sys.argv[2]))\n print('ok')\nexcept OSError as e:\n print(errno.errorcode[e.errno])",
                f.toString(), Long.toString(offset));
    }

    @ParameterizedTest
    @EnumSource(value = Tier.class, names = {"CLASSIC", "PASSTHROUGH"})
    void deletingABigFileMakesItsSpaceUsableAgain(Tier tier) throws Exception {
        try (EfuseMount m = EfuseMount.mount(MountOptions.builder(backing, mnt).tier(tier).limits(4 * MIB, 0).build())) {
            for (int round = 0; round < 3; round++) {
                write(mnt.resolve("big"), 0, (int) (3 * MIB));
                assertThrows(IOException.class, () -> write(mnt.resolve("more"), 0, (int) (2 * MIB)));
                Files.deleteIfExists(mnt.resolve("more"));
                Files.delete(mnt.resolve("big"));
                assertEquals(4 * MIB, Files.getFileStore(mnt).getUsableSpace(), "round " + round);
            }
        }
    }

    @org.junit.jupiter.api.Test
    void aRemountCountsAllocatedBlocksAndHardLinksOnce() throws Exception {
        try (FileChannel ch = FileChannel.open(backing.resolve("sparse"), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(4096), 8 * MIB);
        }
        Files.write(backing.resolve("dense"), new byte[64 * 1024]);
        Files.createLink(backing.resolve("link"), backing.resolve("dense"));
        try (EfuseMount m = EfuseMount.mount(MountOptions.builder(backing, mnt).limits(MIB, 0).build())) {
            assertEquals(MIB - 4096 - 64 * 1024, Files.getFileStore(mnt).getUsableSpace());
        }
    }

    @org.junit.jupiter.api.Test
    void aReadOnlyOpenOfALimitedVolumeGoesThroughPassthroughAndAWriterDoesNot() throws Exception {
        try (EfuseMount m = EfuseMount.mount(MountOptions.builder(backing, mnt).tier(Tier.PASSTHROUGH)
                .limits(MIB, 0).build())) {
            Path f = mnt.resolve("f");
            Files.write(f, "first!".getBytes());
            awaitReleased(m);
            try (FileChannel w = FileChannel.open(f, StandardOpenOption.WRITE)) {
                assertEquals(0, m.stats().passthroughOpenFiles(), "a writer is charged by the daemon");
                try (FileChannel r = FileChannel.open(f, StandardOpenOption.READ)) {
                    assertEquals(0, m.stats().passthroughOpenFiles(), "a reader shares the writer's page cache");
                    w.write(ByteBuffer.wrap("second".getBytes()), 0);
                    assertEquals("second", read(r));
                }
            }
            try (FileChannel r = openPassthroughReader(m, f)) {
                assertEquals("second", read(r));
                try (FileChannel w = FileChannel.open(f, StandardOpenOption.WRITE)) {
                    // The writer joins the reader's backing file, but its writes still go through the daemon.
                    assertEquals(2, m.stats().passthroughOpenFiles());
                    w.write(ByteBuffer.wrap("third!".getBytes()), 0);
                    assertEquals("third!", read(r), "the reader sees the writer's data");
                    IOException full = assertThrows(IOException.class, () -> w.write(ByteBuffer.allocate((int) MIB), 4096));
                    assertTrue(full.getMessage().contains("quota"), full.getMessage());
                }
            }
            awaitReleased(m);
            // Back on the daemon's path: the pages cached while "second" was the data must not be served.
            try (FileChannel w = FileChannel.open(f, StandardOpenOption.WRITE);
                    FileChannel r = FileChannel.open(f, StandardOpenOption.READ)) {
                assertEquals(0, m.stats().passthroughOpenFiles());
                assertEquals("third!", read(r));
            }
        }
    }

    /** A read-only open once the daemon has seen earlier opens released (the kernel releases asynchronously). */
    private static FileChannel openPassthroughReader(EfuseMount m, Path f) throws Exception {
        AtomicReference<FileChannel> reader = new AtomicReference<>();
        WAIT.explainedBy(() -> m.stats().toString()).until("a reader alone to read the backing file", () -> {
            FileChannel r = FileChannel.open(f, StandardOpenOption.READ);
            if (m.stats().passthroughOpenFiles() == 1) {
                reader.set(r);
                return true;
            }
            r.close();
            return false;
        });
        return reader.get();
    }

    /** Waits until the kernel has released every file opened on m, which it does after close returns. */
    private static void awaitReleased(EfuseMount m) throws InterruptedException {
        WAIT.explainedBy(() -> m.stats().toString()).until("every open file to be released",
                () -> m.requests(FuseOpcode.RELEASE) == m.requests(FuseOpcode.OPEN) + m.requests(FuseOpcode.CREATE)
                        && m.stats().passthroughOpenFiles() == 0);
    }

    private static String read(FileChannel ch) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(64);
        ch.read(b, 0);
        return new String(b.array(), 0, b.position());
    }

    @org.junit.jupiter.api.Test
    void aShownSizeAppearsInStatfsWithTheUsageItsFileHolds() throws Exception {
        Path usage = Files.writeString(tmp.resolve("referenced"), Long.toString(3 * MIB) + "\n");
        try (EfuseMount m = EfuseMount.mount(MountOptions.builder(backing, mnt).shownSize(64 * MIB, usage).build())) {
            var store = Files.getFileStore(mnt);
            assertEquals(64 * MIB, store.getTotalSpace());
            assertEquals(61 * MIB, store.getUsableSpace());
            Files.writeString(usage, Long.toString(10 * MIB));
            assertEquals(54 * MIB, Files.getFileStore(mnt).getUsableSpace(), "read again at each statfs");
            Files.writeString(usage, Long.toString(100 * MIB));
            assertEquals(0, Files.getFileStore(mnt).getUsableSpace());
            Files.delete(usage);
            assertEquals(64 * MIB, Files.getFileStore(mnt).getTotalSpace());
            assertEquals(64 * MIB, Files.getFileStore(mnt).getUsableSpace(), "unreadable: the disk's free space, within the size");
            // Nothing is enforced by the daemon, so writers keep passthrough.
            if (m.tier() == Tier.PASSTHROUGH) {
                try (FileChannel w = FileChannel.open(mnt.resolve("f"), StandardOpenOption.CREATE,
                        StandardOpenOption.WRITE)) {
                    assertEquals(1, m.stats().passthroughOpenFiles());
                }
            }
        }
    }

    @org.junit.jupiter.api.Test
    void aShownSizeTravelsAsTextAndOldTextsStillParse() {
        MountOptions o = MountOptions.builder(backing, mnt).shownSize(5 * MIB, Path.of("/sys/fs/btrfs/x/referenced"))
                .build();
        MountOptions back = MountOptions.fromText(o.toText());
        assertEquals(o, back);
        assertFalse(back.limited());
        MountOptions plain = MountOptions.builder(backing, mnt).limits(MIB, 7).build();
        String old = plain.toText();
        assertFalse(old.contains("shownBytes") || old.contains("usageFile"), old);
        MountOptions parsed = MountOptions.fromText(old);
        assertEquals(0, parsed.shownBytes());
        assertNull(parsed.usageFile());
        assertEquals(plain, parsed);
    }

    @ParameterizedTest
    @EnumSource(value = Tier.class, names = {"CLASSIC"})
    void filesPastTheInodeLimitAreRefused(Tier tier) throws Exception {
        try (EfuseMount m = EfuseMount.mount(MountOptions.builder(backing, mnt).tier(tier).limits(0, 3).build())) {
            Files.createFile(mnt.resolve("1"));
            Files.createDirectory(mnt.resolve("2"));
            Files.createSymbolicLink(mnt.resolve("3"), Path.of("1"));
            IOException e = assertThrows(IOException.class, () -> Files.createFile(mnt.resolve("4")));
            assertTrue(e.getMessage().contains("quota") || e.getMessage().contains("4"), e.getMessage());
            var stat = new ProcessBuilder("stat", "-f", "-c", "%c %d", mnt.toString()).start();
            assertEquals("3 0", new String(stat.getInputStream().readAllBytes()).trim(), "df -i: 3 inodes, none free");
            Files.delete(mnt.resolve("2"));
            Files.createFile(mnt.resolve("4"));
            assertTrue(Files.exists(backing.resolve("4")));
        }
    }
}
