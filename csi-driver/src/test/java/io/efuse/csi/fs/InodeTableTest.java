package io.efuse.csi.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Field;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Node ids, lookup counts, forgetting, slot reuse and the (dev, ino) index of {@link InodeTable}. */
class InodeTableTest {
    private static final int ROOT_FD = 1000;
    private final List<Integer> closed = new ArrayList<>();
    private final InodeTable table = new InodeTable(closed::add);
    private int nextFd = 2000;

    InodeTableTest() {
        table.installRoot(ROOT_FD, 7, 2, 040755);
    }

    private Inode lookup(long ino) {
        return table.lookupOrInsert(nextFd++, 7, ino, 0100644);
    }

    @Test
    void theRootIsNodeOneAndIsNeverForgotten() {
        Inode root = table.get(1);
        assertEquals(ROOT_FD, root.fd);
        table.forget(1, Long.MAX_VALUE / 2);
        table.forget(1, 1);
        assertSame(root, table.get(1));
        assertEquals(List.of(), closed);
    }

    @Test
    void aLookupOfTheRootsIdentityReturnsTheRoot() {
        Inode again = table.lookupOrInsert(3000, 7, 2, 040755);
        assertSame(table.get(1), again);
        assertEquals(List.of(3000), closed, "the duplicate descriptor is closed");
    }

    @Test
    void oneBackingFileIsOneNodeAndLookupsAreCounted() {
        Inode a = lookup(10);
        int fd = a.fd;
        Inode b = lookup(10);
        Inode c = lookup(10);
        assertSame(a, b);
        assertSame(a, c);
        assertEquals(3, a.nlookup);
        assertEquals(List.of(fd + 1, fd + 2), closed, "later descriptors of the same file are closed");
        assertEquals(2, table.size());
    }

    @Test
    void aNodeGoesAwayWhenTheKernelForgetsEveryLookup() {
        Inode a = lookup(10);
        lookup(10);
        lookup(10);
        closed.clear();
        table.forget(a.nodeId, 2);
        assertSame(a, table.get(a.nodeId));
        assertEquals(List.of(), closed);
        table.forget(a.nodeId, 1);
        assertNull(table.get(a.nodeId));
        assertEquals(List.of(a.fd), closed);
        assertEquals(1, table.size());
        // Forgetting a node that is gone, or one never handed out, changes nothing.
        table.forget(a.nodeId, 1);
        table.forget(123456, 1);
        assertEquals(List.of(a.fd), closed);
    }

    @Test
    void aFreedSlotIsReusedWithANewGeneration() {
        Inode a = lookup(10);
        table.forget(a.nodeId, 1);
        Inode b = lookup(11);
        assertEquals(a.nodeId, b.nodeId);
        assertEquals(a.generation + 1, b.generation);
        table.forget(b.nodeId, 1);
        Inode c = lookup(10);
        assertEquals(a.nodeId, c.nodeId);
        assertEquals(a.generation + 2, c.generation);
        assertNotSame(a, c);
    }

    @Test
    void idsOutsideTheTableAreStale() {
        assertNull(table.get(0));
        assertNull(table.get(-1));
        assertNull(table.get(Long.MAX_VALUE));
        assertNull(table.get(5));
    }

    @Test
    void theTableGrowsPastItsInitialSlots() {
        Map<Long, Long> ids = new HashMap<>();
        for (long ino = 100; ino < 5100; ino++) {
            ids.put(ino, lookup(ino).nodeId);
        }
        for (var e : ids.entrySet()) {
            Inode n = table.get(e.getValue());
            assertEquals(e.getKey().longValue(), n.ino);
            assertSame(n, lookup(e.getKey()), "found again through the index");
        }
        assertEquals(5001, table.size());
    }

    @Test
    void theIndexStaysSmallAndCorrectUnderCreateAndForgetChurn() throws Exception {
        // Every forget leaves a tombstone in the open-addressing index; a rehash must clear them,
        // or a probe for a missing key would never end once no empty slot is left.
        Random random = new Random(42);
        Map<Long, Inode> live = new HashMap<>();
        assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
            long ino = 1_000_000;
            for (int i = 0; i < 300_000; i++) {
                Inode n = lookup(ino);
                live.put(ino, n);
                ino++;
                if (live.size() > 50) {
                    Long victim = live.keySet().stream().skip(random.nextInt(live.size())).findFirst().orElseThrow();
                    Inode v = live.remove(victim);
                    table.forget(v.nodeId, v.nlookup);
                }
            }
        });
        assertEquals(live.size() + 1, table.size());
        for (var e : live.entrySet()) {
            assertSame(e.getValue(), lookup(e.getKey()));
        }
        assertTrue(indexCapacity() <= 4096, "index grew to " + indexCapacity() + " slots for " + live.size() + " nodes");
        assertTrue(slotCapacity() <= 1024, "slots grew to " + slotCapacity() + " for " + live.size() + " live nodes");
    }

    @Test
    void clearClosesEveryDescriptor() {
        Inode a = lookup(10);
        Inode b = lookup(11);
        closed.clear();
        table.clear();
        assertEquals(3, closed.size());
        assertTrue(closed.containsAll(List.of(ROOT_FD, a.fd, b.fd)));
        assertEquals(0, table.size());
    }

    private int indexCapacity() throws Exception {
        Field f = InodeTable.class.getDeclaredField("index");
        f.setAccessible(true);
        return ((int[]) f.get(table)).length;
    }

    private int slotCapacity() throws Exception {
        Field f = InodeTable.class.getDeclaredField("slots");
        f.setAccessible(true);
        return ((Object[]) f.get(table)).length;
    }
}
