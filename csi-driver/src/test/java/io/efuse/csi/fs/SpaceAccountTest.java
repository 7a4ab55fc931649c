package io.efuse.csi.fs;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SpaceAccountTest {
    private static final long K = 1024;
    private final SpaceAccount a = new SpaceAccount(1024 * K, 0, 0, 0, 4096, 16 * K * K * K * K);

    @Test
    void aWriteMayAllocateItsRangeRoundedOutToBlocks() {
        assertEquals(8192, a.mayAllocate(4095, 4097, 0, 0), "two bytes across a block boundary touch two blocks");
        assertEquals(4096, a.mayAllocate(0, 1, 0, 0));
        assertEquals(0, a.mayAllocate(10, 10, 0, 0), "nothing written, nothing allocated");
    }

    @Test
    void anOverwriteOfAFileWithoutHolesAllocatesNothing() {
        assertEquals(0, a.mayAllocate(0, 8192, 12288, 12288));
        assertEquals(0, a.mayAllocate(100, 200, 300, 4096), "inside the last, partly used block");
    }

    @Test
    void anAppendToAFileWithoutHolesAllocatesOnlyPastItsEnd() {
        assertEquals(8192, a.mayAllocate(10000, 20000, 10000, 12288));
    }

    @Test
    void aWriteIntoASparseFileIsBoundedByItsHoles() {
        long size = 2 * K * K + 1;
        assertEquals(4096, a.mayAllocate(0, 4096, size, 0));
        // All of it allocated but one block (2 MiB + 4096 rounded out, less one block): one block of holes left.
        assertEquals(4096, a.mayAllocate(0, 1 << 20, size, 2 * K * K));
    }

    @Test
    void settlingReplacesTheReservationByWhatWasAllocated() {
        assertTrue(a.chargeBytes(8192));
        a.settle(8192, 4096);
        assertEquals(4096, a.usedBytes());
        a.settle(0, 8192);
        assertEquals(12288, a.usedBytes(), "blocks beyond the reservation are counted whatever the limit");
        a.settle(0, -12288);
        assertEquals(0, a.usedBytes());
        a.settle(4096, 0);
        assertEquals(0, a.usedBytes(), "never below nothing");
    }

    @Test
    void chargesPastTheLimitAreRefusedWholly() {
        assertTrue(a.chargeBytes(1024 * K));
        assertFalse(a.chargeBytes(1));
        assertEquals(1024 * K, a.usedBytes());
    }

    @Test
    void theLargestFileSizeIsWhatTheBackingFilesystemAccepts(@TempDir Path dir) {
        long max = SpaceAccount.maxFileSizeOf(dir);
        assertTrue(max >= 1L << 40, "at least 1 TiB on any filesystem the tests run on: " + max);
        System.out.println("largest file size under " + dir + ": " + max);
    }

    @Test
    void blockSizesMustBePowersOfTwo() {
        assertThrows(IllegalArgumentException.class, () -> new SpaceAccount(0, 0, 0, 0, 3000, Long.MAX_VALUE));
    }
}
