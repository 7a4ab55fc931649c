package io.efuse.csi.fs;

import static org.junit.jupiter.api.Assertions.*;

import io.efuse.csi.fuse.FuseOpcode;
import io.efuse.csi.testing.BoundedWait;
import io.efuse.csi.testing.RequiresFuse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@RequiresFuse
class WorkerScalingTest {
    @TempDir
    Path tmp;
    Path backing;
    Path mnt;

    @BeforeEach
    void dirs() throws Exception {
        backing = Files.createDirectory(tmp.resolve("backing"));
        mnt = Files.createDirectory(tmp.resolve("mnt"));
    }

    /** Waits for a condition for at most 20 s, doing FUSE traffic meanwhile (a retiring worker leaves after a request). */
    private void await(BooleanSupplier done, Path poke, String what) throws Exception {
        BoundedWait.upTo(Duration.ofSeconds(20)).every(Duration.ofMillis(10)).until(what, () -> {
            Files.readAttributes(poke, "unix:ino"); // timeouts are 0: every stat is a request
            return done.getAsBoolean();
        });
    }

    @Test
    void workersFollowTheAdvisorWithinBoundsAndKeepServing() throws Exception {
        Path f = Files.writeString(backing.resolve("f"), "data");
        AtomicInteger wanted = new AtomicInteger(6);
        try (EfuseMount m = EfuseMount.mount(MountOptions.builder(backing, mnt).workers(2).tier(Tier.CLASSIC).queues(Queues.DEV)
                .timeouts(Duration.ZERO).build())) {
            m.scaleWorkers(current -> wanted.get(), 2, 5);
            await(() -> m.stats().workers() == 5, mnt.resolve("f"), "grown to the maximum of 5");
            assertEquals("data", Files.readString(mnt.resolve("f")));
            long before = m.requests(FuseOpcode.GETATTR);
            wanted.set(1);
            await(() -> m.stats().workers() == 2, mnt.resolve("f"), "shrunk to the minimum of 2");
            assertTrue(m.requests(FuseOpcode.GETATTR) >= before, "counts of retired workers are kept");
            Files.writeString(mnt.resolve("g"), "more");
            assertEquals("more", Files.readString(f.resolveSibling("g")));
        }
    }
}
