package io.efuse.csi.fs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.efuse.csi.bpf.EfuseCacheMaps;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The generation rules of the in-kernel cache, against maps that answer as the cache program does: whatever the
 * daemon filled is served only as long as nothing it describes has changed.
 */
class MapKernelCacheTest {
    private static final long ROOT = 1;
    private final FakeCacheMaps maps = new FakeCacheMaps();
    private final AtomicInteger failSafes = new AtomicInteger();
    private final AtomicInteger closes = new AtomicInteger();
    private final MapKernelCache cache = new MapKernelCache(maps, failSafes::incrementAndGet, closes::incrementAndGet);

    private static byte[] name(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] attr(int size) {
        byte[] a = new byte[EfuseCacheMaps.ATTR_SIZE];
        a[8] = (byte) size; // fuse_attr.size, low byte
        return a;
    }

    private void fillEntry(long parent, String name, long node, int size) {
        cache.entry(cache.ticket(), parent, name(name), node, 7, 0, 0, 0, 0, attr(size));
    }

    @Test
    void anEntryIsServedUntilItsDirectoryChanges() {
        fillEntry(ROOT, "a", 5, 10);
        assertEquals(Optional.of(5L), maps.lookup(ROOT, "a"));
        assertArrayEquals(attr(10), maps.getattr(5).orElseThrow());

        cache.changed(KernelCache.NO_FILL, ROOT);

        assertEquals(Optional.empty(), maps.lookup(ROOT, "a"));
        assertTrue(maps.getattr(5).isPresent(), "the node itself did not change");
    }

    @Test
    void attributesStopBeingServedWhenTheNodeChanges() {
        fillEntry(ROOT, "a", 5, 10);
        cache.changed(KernelCache.NO_FILL, 5);
        assertEquals(Optional.empty(), maps.getattr(5));
        assertEquals(Optional.empty(), maps.lookup(ROOT, "a"), "a positive entry needs current attributes");
    }

    @Test
    void aFillThatAChangeOverlappedIsDropped() {
        long ticket = cache.ticket();
        // The change ran between reading the backing state and filling: what was read may be older than it.
        cache.changed(KernelCache.NO_FILL, 99);
        cache.entry(ticket, ROOT, name("a"), 5, 7, 0, 0, 0, 0, attr(10));
        cache.attr(ticket, 6, 0, 0, attr(3));
        cache.negativeEntry(ticket, ROOT, name("missing"), 0, 0);
        cache.data(ticket, 6, new byte[] {1}, 1);
        assertEquals(Optional.empty(), maps.lookup(ROOT, "a"));
        assertEquals(Optional.empty(), maps.getattr(6));
        assertEquals(Optional.empty(), maps.lookup(ROOT, "missing"));
        assertEquals(Optional.empty(), maps.read(6));
    }

    @Test
    void aChangeGivesItsOwnReplyATicketOnlyWhenNothingElseRanMeanwhile() {
        long ticket = cache.ticket();
        long own = cache.changed(ticket, ROOT);
        assertNotEquals(KernelCache.NO_FILL, own);
        cache.entry(own, ROOT, name("new"), 8, 1, 0, 0, 0, 0, attr(0));
        assertEquals(Optional.of(8L), maps.lookup(ROOT, "new"));

        long before = cache.ticket();
        cache.changed(KernelCache.NO_FILL, 42);
        assertEquals(KernelCache.NO_FILL, cache.changed(before, ROOT));
    }

    @Test
    void aNegativeEntryIsServedUntilTheDirectoryChanges() {
        fillEntry(ROOT, "other", 5, 1); // the directory's generation exists from its first fill
        cache.negativeEntry(cache.ticket(), ROOT, name("missing"), 0, 0);
        assertEquals(Optional.of(0L), maps.lookup(ROOT, "missing"));
        cache.changed(KernelCache.NO_FILL, ROOT); // e.g. CREATE of "missing"
        assertEquals(Optional.empty(), maps.lookup(ROOT, "missing"));
    }

    @Test
    void aForgottenNodeIdIsNeverReachedAgainThroughItsOldNames() {
        fillEntry(ROOT, "a", 5, 10);
        fillEntry(3, "hardlink", 5, 10);
        cache.forgotten(5);
        // The daemon reuses id 5 for another file, whose attributes get filled.
        cache.attr(cache.ticket(), 5, 0, 0, attr(77));
        assertArrayEquals(attr(77), maps.getattr(5).orElseThrow());
        assertEquals(Optional.empty(), maps.lookup(ROOT, "a"));
        assertEquals(Optional.empty(), maps.lookup(3, "hardlink"));
    }

    @Test
    void nothingOfAFileWrittenBehindTheDaemonIsServed() {
        fillEntry(ROOT, "f", 5, 10);
        cache.data(cache.ticket(), 5, new byte[] {1, 2}, 2);
        cache.bypassingWriterOpened(5);
        assertEquals(Optional.empty(), maps.getattr(5));
        assertEquals(Optional.empty(), maps.read(5));
        cache.attr(cache.ticket(), 5, 0, 0, attr(11));
        cache.data(cache.ticket(), 5, new byte[] {3}, 1);
        fillEntry(ROOT, "f", 5, 11);
        assertEquals(Optional.empty(), maps.getattr(5), "filled while a writer bypasses the daemon");
        assertEquals(Optional.empty(), maps.read(5));
        assertEquals(Optional.empty(), maps.lookup(ROOT, "f"));

        cache.bypassingWriterClosed(5);
        cache.attr(cache.ticket(), 5, 0, 0, attr(12));
        assertArrayEquals(attr(12), maps.getattr(5).orElseThrow());
    }

    @Test
    void twoWritersKeepTheNodeUnservedUntilBothAreGone() {
        cache.bypassingWriterOpened(5);
        cache.bypassingWriterOpened(5);
        cache.bypassingWriterClosed(5);
        cache.attr(cache.ticket(), 5, 0, 0, attr(1));
        assertEquals(Optional.empty(), maps.getattr(5));
        cache.bypassingWriterClosed(5);
        cache.attr(cache.ticket(), 5, 0, 0, attr(2));
        assertArrayEquals(attr(2), maps.getattr(5).orElseThrow());
    }

    @Test
    void dotNamesAndNamesTooLongForAKeyAreNeverFilled() {
        fillEntry(ROOT, ".", 1, 0);
        fillEntry(ROOT, "..", 1, 0);
        String longName = "x".repeat(EfuseCacheMaps.NAME_MAX + 1);
        fillEntry(ROOT, longName, 5, 0);
        assertEquals(Optional.empty(), maps.lookup(ROOT, "."));
        assertEquals(Optional.empty(), maps.lookup(ROOT, ".."));
        assertEquals(Optional.empty(), maps.lookup(ROOT, longName));
        fillEntry(ROOT, "x".repeat(EfuseCacheMaps.NAME_MAX), 5, 0);
        assertEquals(Optional.of(5L), maps.lookup(ROOT, "x".repeat(EfuseCacheMaps.NAME_MAX)));
    }

    @Test
    void aGenerationThatCannotBeWrittenDetachesTheProgram() {
        fillEntry(ROOT, "a", 5, 10);
        maps.refuseGenerations = true;
        cache.changed(KernelCache.NO_FILL, 5);
        assertEquals(1, failSafes.get());
        assertFalse(cache.active());
        assertEquals(KernelCache.NO_FILL, cache.ticket());
        maps.refuseGenerations = false;
        cache.attr(0, 6, 0, 0, attr(1));
        assertEquals(Optional.empty(), maps.getattr(6), "nothing is filled once detached");
    }

    @Test
    void aFullEntryMapOnlyCostsTheFill() {
        maps.refuseEntries = true;
        fillEntry(ROOT, "a", 5, 10);
        assertEquals(Optional.empty(), maps.lookup(ROOT, "a"));
        assertEquals(1, cache.fillFailures());
        assertTrue(cache.active());
        assertEquals(0, failSafes.get());
    }

    @Test
    void generationsOnlyGoUpInTheMapUnderConcurrentChangesAndFills() throws Exception {
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            int seed = t;
            threads.add(Thread.ofPlatform().start(() -> {
                for (int i = 0; i < 5000; i++) {
                    long node = 2 + (i + seed) % 7;
                    if ((i + seed) % 3 == 0) {
                        cache.changed(KernelCache.NO_FILL, node, ROOT);
                    } else {
                        cache.entry(cache.ticket(), ROOT, name("n" + node), node, 1, 0, 0, 0, 0, attr(i));
                    }
                }
            }));
        }
        for (Thread t : threads) {
            t.join();
        }
        maps.generationWrites.forEach((node, writes) -> {
            for (int i = 1; i < writes.size(); i++) {
                assertTrue(writes.get(i) > writes.get(i - 1), "generation of node " + node + " went from "
                        + writes.get(i - 1) + " to " + writes.get(i));
            }
        });
        // After a final change of every node nothing filled before it is served.
        for (long node = 2; node < 9; node++) {
            cache.changed(KernelCache.NO_FILL, node);
            assertEquals(Optional.empty(), maps.getattr(node));
        }
    }

    @Test
    void closingUnloadsOnceAndStopsFilling() {
        cache.close();
        assertEquals(1, closes.get());
        fillEntry(ROOT, "a", 5, 1);
        assertEquals(Optional.empty(), maps.lookup(ROOT, "a"));
    }
}
