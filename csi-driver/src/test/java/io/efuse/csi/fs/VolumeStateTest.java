package io.efuse.csi.fs;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A volume's state directory goes with the volume, whatever a killed daemon left half-written in it. */
class VolumeStateTest {
    @TempDir
    Path dir;

    @Test
    void anUnmountedVolumeLeavesNoStateDirectoryEvenWithReplacementsAKilledDaemonLeft() throws Exception {
        Path backing = Files.createDirectories(dir.resolve("backing"));
        Path state = dir.resolve("state");
        // what a daemon killed while compacting the journal or replacing the session file leaves
        Files.createDirectories(state);
        Files.writeString(state.resolve("journal.new"), "torn");
        Files.writeString(state.resolve("session.new"), "torn");

        VolumeState fresh = VolumeState.start(state, backing);
        assertFalse(Files.exists(state.resolve("journal.new")), "a fresh mount drops the earlier leftovers");
        Files.writeString(state.resolve("session.new"), "torn again");
        fresh.discard();
        assertFalse(Files.exists(state), "the state directory went with the volume");
    }

    @Test
    void aStateDirectoryHoldingSomethingElseIsLeftAlone() throws Exception {
        Path backing = Files.createDirectories(dir.resolve("backing"));
        Path state = dir.resolve("state");
        VolumeState fresh = VolumeState.start(state, backing);
        Files.writeString(state.resolve("notes"), "not ours");
        fresh.discard();
        assertTrue(Files.exists(state.resolve("notes")));
    }
}
