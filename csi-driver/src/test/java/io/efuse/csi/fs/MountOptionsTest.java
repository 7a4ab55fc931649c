package io.efuse.csi.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The default worker count follows the machine's cores within what a mount may have. */
class MountOptionsTest {
    private static final Path BACKING = Path.of("/backing");
    private static final Path MOUNT = Path.of("/mnt");

    @Test
    void defaultWorkersAreOnePerCoreAndAtLeastTwo() {
        assertEquals(2, MountOptions.defaultWorkers(1));
        assertEquals(2, MountOptions.defaultWorkers(2));
        assertEquals(48, MountOptions.defaultWorkers(48));
        assertEquals(64, MountOptions.defaultWorkers(64));
    }

    @Test
    void defaultOptionsHoldOnNodesWithMoreCoresThanAMountMayHaveWorkers() {
        for (int cores : new int[] {65, 96, 128, 256, 1024}) {
            MountOptions o = MountOptions.builder(BACKING, MOUNT).workers(MountOptions.defaultWorkers(cores)).build();
            assertEquals(MountOptions.MAX_WORKERS, o.workers(), cores + " cores");
        }
    }

    @Test
    void theDefaultsOfThisMachineBuild() {
        int workers = MountOptions.builder(BACKING, MOUNT).build().workers();
        assertTrue(workers >= 2 && workers <= MountOptions.MAX_WORKERS, "workers " + workers);
    }

    @Test
    void moreWorkersThanAMountMayHaveAreRefusedNamingTheBound() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> MountOptions.builder(BACKING, MOUNT).workers(MountOptions.MAX_WORKERS + 1).build());
        assertEquals("workers must be between 1 and 64, not 65", e.getMessage());
    }
}
