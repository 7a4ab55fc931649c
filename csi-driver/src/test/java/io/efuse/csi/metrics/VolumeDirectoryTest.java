package io.efuse.csi.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VolumeDirectoryTest {
    @TempDir
    Path dir;

    /** The connections this test pretends are mounted. */
    private final Set<Integer> mounted = new HashSet<>(Set.of(3, 5, 6, 7, 41, 42));

    private VolumeDirectory directory() {
        return new VolumeDirectory(dir, () -> mounted);
    }

    private static VolumeDirectory.Volume volume(int connection, String id) {
        return new VolumeDirectory.Volume(connection, id, "/mnt/" + id, "passthrough");
    }

    @Test
    void volumesAnotherProcessPublishesAreKnownUntilItWithdrawsThem() {
        VolumeDirectory daemon = directory();   // the process serving the sessions
        VolumeDirectory plugin = directory();   // the node plugin, which exports the series
        daemon.register(volume(41, "pvc-a"));
        plugin.register(volume(42, "pvc-b"));

        assertEquals(volume(41, "pvc-a"), plugin.byConnection(41).orElseThrow());
        assertEquals(2, plugin.all().size());
        assertEquals(volume(42, "pvc-b"), daemon.all().get(42));

        daemon.forget(41);
        assertTrue(plugin.byConnection(41).isEmpty());
        assertEquals(1, plugin.all().size());
    }

    @Test
    void theProcessesOwnRegistrationWinsOverAStaleFile() {
        directory().register(volume(7, "old"));
        VolumeDirectory now = directory();
        VolumeDirectory.Volume fresh = volume(7, "new");
        now.register(fresh);
        assertEquals(fresh, directory().byConnection(7).orElseThrow(), "the file was replaced");
        assertEquals(fresh, now.all().get(7));
    }

    @Test
    void filesThatAreNotVolumesAreIgnored() throws Exception {
        Files.writeString(dir.resolve("9x"), "volume=odd\n");
        Files.writeString(dir.resolve(".3.tmp"), "volume=half-written\n");
        directory().register(volume(3, "pvc-c"));
        assertEquals(Set.of(3), directory().all().keySet());
    }

    @Test
    void aVolumeWhoseConnectionIsGoneIsNotKnownThoughItsFileIsLeft() {
        directory().register(volume(41, "killed-daemon"));
        mounted.remove(41);
        VolumeDirectory plugin = directory();
        assertTrue(plugin.byConnection(41).isEmpty());
        assertFalse(plugin.all().containsKey(41));
        assertTrue(Files.exists(dir.resolve("41")), "only its process may withdraw it");
    }

    @Test
    void withoutAStateDirectoryOnlyThisProcessesVolumesAreKnown() {
        directory().register(volume(5, "elsewhere"));
        VolumeDirectory local = new VolumeDirectory();
        local.register(volume(6, "here"));
        assertFalse(local.all().containsKey(5));
        assertTrue(local.byConnection(6).isPresent());
    }
}
