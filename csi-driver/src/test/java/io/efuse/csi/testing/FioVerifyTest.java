package io.efuse.csi.testing;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FioVerifyTest {
    private static final Duration BOUND = Duration.ofMinutes(2);

    @TempDir
    Path dir;

    @Test
    void aRunThatWritesAndVerifiesItsDataIsClean() throws Exception {
        Path data = Files.createDirectory(dir.resolve("data"));
        FioVerify fio = FioVerify.start("small", data, dir, 1, 1);
        fio.assertClean(BOUND);
        assertTrue(fio.output().contains("err= 0"), fio.output());
        assertTrue(Files.exists(dir.resolve("small.fio.log")));
    }

    @Test
    void aRunThatCannotWriteIsNotClean() throws Exception {
        FioVerify fio = FioVerify.start("nowhere", dir.resolve("missing"), dir, 1, 1);
        AssertionError e = assertThrows(AssertionError.class, () -> fio.assertClean(BOUND));
        assertTrue(e.getMessage().startsWith("fio exited "), e.getMessage());
    }

    @Test
    void aRunOfNothingIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> FioVerify.command("empty", dir, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> FioVerify.command("never", dir, 1, 0));
    }
}
