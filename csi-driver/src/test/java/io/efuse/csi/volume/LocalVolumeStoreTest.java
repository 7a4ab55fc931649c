package io.efuse.csi.volume;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The embedded store: records survive restarts, interrupted work is undone, the state directory has one owner. */
class LocalVolumeStoreTest {
    @TempDir
    Path tmp;

    private BackingRoots roots() throws IOException {
        return new BackingRoots(BackingStore.open(tmp.resolve("backing")), null);
    }

    private static VolumeSpec spec(String name) {
        return new VolumeSpec(name, 1 << 20, 0, 1 << 20, 4096, Backend.LOCAL, List.of(), List.of(), null, Map.of(),
                Map.of());
    }

    @Test
    void volumesAndSnapshotsSurviveARestart() throws Exception {
        BackingRoots roots = roots();
        String id;
        String snap;
        try (LocalVolumeStore store = new LocalVolumeStore(tmp.resolve("state"), "n", roots)) {
            id = store.create(spec("a")).id();
            store.expand(id, 2 << 20, 4096);
            snap = store.createSnapshot("s", id).id();
        }
        try (LocalVolumeStore store = new LocalVolumeStore(tmp.resolve("state"), "n", roots())) {
            assertEquals(2 << 20, store.volume(id).orElseThrow().capacityBytes());
            assertTrue(store.snapshot(snap).orElseThrow().readyToUse());
        }
    }

    @Test
    void workThatACrashInterruptedIsUndoneAtStart() throws Exception {
        BackingRoots roots = roots();
        String orphan = VolumeIds.volumeId("crashed-between-dir-and-record");
        roots.local().createVolume(orphan, new Limits(1 << 20, 0), null);
        Path leftover = Files.createDirectories(tmp.resolve("backing/.work/create-x-1-1"));
        Files.createDirectories(tmp.resolve("state/volumes"));
        Files.writeString(tmp.resolve("state/volumes/.tmp-torn-1"), "{\"id\":");
        try (LocalVolumeStore store = new LocalVolumeStore(tmp.resolve("state"), "n", roots())) {
            assertTrue(store.volumes().isEmpty());
            assertFalse(Files.exists(roots.local().volumeDir(orphan)), "a directory without a record is removed");
            assertFalse(Files.exists(leftover), "half-built work directories are removed");
            assertFalse(Files.exists(tmp.resolve("state/volumes/.tmp-torn-1")), "a torn record write is dropped");
        }
    }

    @Test
    void aSecondProcessCannotOpenTheSameStateDirectory() throws Exception {
        try (LocalVolumeStore store = new LocalVolumeStore(tmp.resolve("state"), "n", roots())) {
            IOException e = assertThrows(IOException.class,
                    () -> new LocalVolumeStore(tmp.resolve("state"), "n", roots()));
            assertTrue(e.getMessage().contains("in use"), e.getMessage());
            assertTrue(store.ready());
        }
    }
}
