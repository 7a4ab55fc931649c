package io.efuse.csi.fs;

import static org.junit.jupiter.api.Assertions.*;

import io.efuse.csi.testing.RequiresFuse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Past its descriptor budget the daemon keeps files by file handle; everything must still work. */
@RequiresFuse
class NodeDescriptorBudgetTest {
    private static final int BUDGET = 8;

    @TempDir
    Path tmp;
    Path backing;
    Path mnt;

    @BeforeEach
    void dirs() throws Exception {
        backing = Files.createDirectory(tmp.resolve("backing"));
        mnt = Files.createDirectory(tmp.resolve("mnt"));
        System.setProperty("efuse.nodeDescriptors", Integer.toString(BUDGET));
    }

    @AfterEach
    void clear() {
        System.clearProperty("efuse.nodeDescriptors");
    }

    /** Recoverable: with crash-recovery state, as every CSI volume is served, the replay guard stands in front. */
    @ParameterizedTest(name = "tier {0}, recoverable {1}")
    @CsvSource({"CLASSIC, false", "PASSTHROUGH, false", "CLASSIC, true", "PASSTHROUGH, true"})
    void filesBeyondTheBudgetAreServedThroughFileHandles(Tier tier, boolean recoverable) throws Exception {
        MountOptions options = MountOptions.builder(backing, mnt).tier(tier).timeouts(Duration.ZERO).build();
        try (EfuseMount m = recoverable ? EfuseMount.mountRecoverable(options, tmp.resolve("state"))
                : EfuseMount.mount(options)) {
            Path dir = Files.createDirectory(mnt.resolve("d"));
            for (int i = 0; i < 200; i++) {
                Files.writeString(dir.resolve("f" + i), "content " + i);
            }
            var stats = m.stats();
            assertTrue(stats.nodes() > 200, "the kernel knows the files: " + stats);
            assertTrue(stats.nodeDescriptors() <= BUDGET + 1, "descriptors stay within the budget: " + stats);
            for (int i = 0; i < 200; i += 17) {
                Path f = dir.resolve("f" + i);
                assertEquals("content " + i, Files.readString(f));
                Files.writeString(f, "again " + i, java.nio.file.StandardOpenOption.APPEND);
                Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
                assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(f)));
                Files.setAttribute(f, "user:tag", java.nio.ByteBuffer.wrap(("t" + i).getBytes()));
                assertEquals(2 + Integer.toString(i).length() - 1,
                        ((byte[]) Files.getAttribute(f, "user:tag")).length);
                Files.createLink(dir.resolve("l" + i), f);
                assertEquals(2, Files.getAttribute(f, "unix:nlink"));
                Files.move(f, dir.resolve("m" + i));
                assertEquals("content " + i + "again " + i, Files.readString(dir.resolve("l" + i)));
            }
            Files.createSymbolicLink(dir.resolve("sym"), Path.of("m0"));
            assertEquals(Path.of("m0"), Files.readSymbolicLink(dir.resolve("sym")));
            try (var s = Files.list(dir)) {
                assertEquals(200 + 12 + 1, s.count());
            }
            // A file deleted behind the mount answers ESTALE-like errors, never another file's data.
            Files.delete(backing.resolve("d/f1"));
            assertThrows(java.io.IOException.class, () -> Files.readString(dir.resolve("f1")));
            assertTrue(m.stats().nodeDescriptors() <= BUDGET + 1, m.stats().toString());
        }
    }

    @org.junit.jupiter.api.Test
    void theVolumesOfOneDaemonShareOneBudget() throws Exception {
        Path backing2 = Files.createDirectory(tmp.resolve("backing2"));
        Path mnt2 = Files.createDirectory(tmp.resolve("mnt2"));
        try (EfuseMount a = EfuseMount.mount(MountOptions.builder(backing, mnt).timeouts(Duration.ZERO).build());
             EfuseMount b = EfuseMount.mount(MountOptions.builder(backing2, mnt2).timeouts(Duration.ZERO).build())) {
            for (int i = 0; i < 50; i++) {
                Files.writeString(mnt.resolve("a" + i), "a" + i);
                Files.writeString(mnt2.resolve("b" + i), "b" + i);
            }
            int held = a.stats().nodeDescriptors() + b.stats().nodeDescriptors();
            // Two workers per volume may both pass the check before either inserts.
            assertTrue(held <= BUDGET + 2, "both volumes together stay within the one budget: " + a.stats() + " / "
                    + b.stats());
            assertEquals("a49", Files.readString(mnt.resolve("a49")));
            assertEquals("b49", Files.readString(mnt2.resolve("b49")));
        }
    }
}
