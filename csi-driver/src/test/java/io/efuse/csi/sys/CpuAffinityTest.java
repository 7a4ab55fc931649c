package io.efuse.csi.sys;

import static org.junit.jupiter.api.Assertions.*;

import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class CpuAffinityTest {
    @Test
    void parsesKernelCpuLists() {
        assertArrayEquals(new int[] {0, 1, 2, 3}, CpuAffinity.parseList("0-3\n"));
        assertArrayEquals(new int[] {0, 2, 4, 5, 6}, CpuAffinity.parseList("0,2,4-6"));
        assertArrayEquals(new int[] {7}, CpuAffinity.parseList("7"));
        assertArrayEquals(new int[0], CpuAffinity.parseList(""));
        assertThrows(IllegalArgumentException.class, () -> CpuAffinity.parseList("3-1"));
    }

    @Test
    void possibleCpusIncludeTheOnesWeRunOn() {
        int[] cpus = CpuAffinity.possible();
        assertTrue(cpus.length >= Runtime.getRuntime().availableProcessors());
        assertEquals(0, cpus[0]);
    }

    @Test
    void aPinnedThreadRunsOnItsCpu() throws Exception {
        int[] cpus = CpuAffinity.possible();
        int target = cpus[cpus.length - 1];
        AtomicInteger seen = new AtomicInteger(-2);
        Thread t = Thread.ofPlatform().start(() -> {
            try {
                CpuAffinity.pinCurrentThread(target);
                int on = CpuAffinity.current();
                for (int i = 0; i < 1000; i++) {
                    if (CpuAffinity.current() != on) {
                        on = -3;
                    }
                }
                seen.set(on);
            } catch (ErrnoException e) {
                seen.set(-1);
            }
        });
        t.join();
        assertEquals(target, seen.get());
    }

    @Test
    void outOfRangeCpuIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> CpuAffinity.pinCurrentThread(100_000));
        ErrnoException e = assertThrows(ErrnoException.class, () -> CpuAffinity.pinCurrentThread(1000));
        assertEquals(Errno.EINVAL, e.errno());
    }
}
