package io.efuse.csi.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.efuse.csi.sys.Syscalls;
import io.efuse.csi.testing.RequiresFuse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A planned handover inside one process: the workers of the first session stop though they sit idle in
 * blocking reads, and the next session serves the same connection from the descriptors a keeper held.
 */
class EfuseMountHandoverTest {
    @TempDir
    Path dir;

    @RequiresFuse
    @Test
    void idleWorkersStopAtDetachAndTheNextSessionServesTheSameConnection() throws Exception {
        Path backing = Files.createDirectories(dir.resolve("backing"));
        Path mnt = Files.createDirectories(dir.resolve("mnt"));
        Path state = dir.resolve("state");
        EfuseMount first = EfuseMount.mountRecoverable(MountOptions.builder(backing, mnt).tier(Tier.CLASSIC)
                .workers(3).build(), state);
        EfuseMount next = null;
        try {
            Files.writeString(mnt.resolve("f"), "written before the handover");
            int[] device = first.deviceFds();
            int[] kept = new int[device.length];
            for (int i = 0; i < device.length; i++) {
                kept[i] = Syscalls.dupCloexec(device[i]); // what the fd keeper holds
            }
            assertTrue(first.detach(10, TimeUnit.SECONDS), "idle workers did not stop within 10 s");

            // Between the two daemons a request waits in the kernel instead of failing.
            CompletableFuture<String> waiting = CompletableFuture.supplyAsync(() -> {
                try {
                    return Files.readString(mnt.resolve("g"));
                } catch (java.io.IOException e) {
                    return "failed: " + e;
                }
            });
            Files.writeString(backing.resolve("g"), "read across the handover");
            next = EfuseMount.adopt(state, kept);
            assertEquals("read across the handover", waiting.get(10, TimeUnit.SECONDS));
            assertEquals("written before the handover", Files.readString(mnt.resolve("f")));
        } finally {
            (next != null ? next : first).close();
        }
    }
}
