package io.efuse.csi.fs;

import static org.junit.jupiter.api.Assertions.*;

import io.efuse.csi.sys.FileHandle;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StateJournalTest {
    @TempDir
    Path dir;

    @Test
    void keepsLiveNodesAndOpenFilesAndSkipsATornRecord() throws Exception {
        Path f = dir.resolve("journal");
        FileHandle h = new FileHandle(1, new byte[] {1, 2, 3, 4, 5, 6, 7, 8});
        try (StateJournal j = StateJournal.open(f, 1 << 20, null)) {
            j.node(2, 0, 7, 100, 0100644, h);
            j.node(3, 0, 7, 101, 0100644, h);
            j.drop(3, 0);
            j.node(3, 1, 7, 102, 040755, null); // slot 3 reused with the next generation
            j.open(0x0100000000000005L, 2, 2);
            j.open(0x0100000000000006L, 2, 0);
            j.close(0x0100000000000006L);
            j.intent(40, 35);
            j.done(40, 35, 102);
            j.intent(42, 10);
            j.node(4, 0, 7, 103, 0100644, h);
        }
        // A crash tore the last record.
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.seek(raf.length() - 10);
            raf.write(new byte[] {9, 9, 9});
        }
        StateJournal.Contents c = StateJournal.read(f);
        assertEquals(java.util.Set.of(2L, 3L), c.nodes().keySet());
        assertEquals(1, c.nodes().get(3L).generation());
        assertEquals(102, c.nodes().get(3L).ino());
        assertNull(c.nodes().get(3L).handle());
        assertEquals(h, c.nodes().get(2L).handle());
        assertEquals(java.util.Set.of(0x0100000000000005L), c.opens().keySet());
        assertEquals(2, c.opens().get(0x0100000000000005L).flags());
        assertTrue(c.ops().get(40L).done());
        assertEquals(102, c.ops().get(40L).ino());
        assertFalse(c.ops().get(42L).done());
        assertEquals(2, c.nextGeneration().get(3L));
    }

    @Test
    void rewritesItselfWithOnlyLiveRecordsOnceMostlyDead() throws Exception {
        Path f = dir.resolve("journal");
        try (StateJournal j = StateJournal.open(f, 64 * StateJournal.RECORD, null)) {
            for (int i = 0; i < 1000; i++) {
                j.open(i, 2, 0);
                j.close(i);
            }
            j.open(5000, 2, 0);
            assertTrue(j.size() < 200 * StateJournal.RECORD, "compacted: " + j.size());
        }
        assertEquals(java.util.Set.of(5000L), StateJournal.read(f).opens().keySet());
        assertTrue(Files.size(f) < 200 * StateJournal.RECORD);
    }

    @Test
    void refusesAJournalOfAnotherVersion() throws Exception {
        Path f = dir.resolve("journal");
        StateJournal.open(f, 1 << 20, null).close();
        byte[] b = Files.readAllBytes(f);
        b[8] = 9; // header key = version
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(b, 0, StateJournal.RECORD - 4);
        java.nio.ByteBuffer.wrap(b).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(StateJournal.RECORD - 4, (int) crc.getValue());
        Files.write(f, b);
        java.io.IOException e = assertThrows(java.io.IOException.class, () -> StateJournal.read(f));
        assertTrue(e.getMessage().contains("version 9"), e.getMessage());
    }
}
