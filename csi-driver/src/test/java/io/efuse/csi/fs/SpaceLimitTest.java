package io.efuse.csi.fs;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class SpaceLimitTest {
    private static final long MIB = 1 << 20;

    @TempDir
    Path tmp;
    Path backing;
    Path mnt;

    @BeforeEach
    void dirs() throws Exception {
        FuseAvailability.assumeFuseMountable();
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

    @ParameterizedTest
    @EnumSource(value = Tier.class, names = {"CLASSIC", "PASSTHROUGH"})
    void truncateAndFallocatePastTheLimitAreRefused(Tier tier) throws Exception {
        try (EfuseMount m = EfuseMount.mount(MountOptions.builder(backing, mnt).tier(tier).limits(MIB, 0).build())) {
            Path f = Files.createFile(mnt.resolve("f"));
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
                assertThrows(IOException.class, () -> ch.truncate(0).write(ByteBuffer.allocate(1), 2 * MIB));
            }
            var p = new ProcessBuilder("truncate", "-s", "2M", f.toString()).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes());
            assertNotEquals(0, p.waitFor(), "truncate -s 2M must fail on a 1 MiB volume");
            assertTrue(out.contains("quota"), out);
            p = new ProcessBuilder("fallocate", "-l", "2M", f.toString()).redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            assertNotEquals(0, p.waitFor(), "fallocate -l 2M must fail on a 1 MiB volume");
            assertEquals(0, Files.size(backing.resolve("f")));
        }
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
