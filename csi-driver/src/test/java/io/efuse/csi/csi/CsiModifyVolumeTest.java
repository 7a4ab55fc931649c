package io.efuse.csi.csi;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import csi.v1.Csi;
import io.efuse.csi.fs.EfuseMount;
import io.efuse.csi.testing.Capabilities;
import io.efuse.csi.fs.Tier;
import io.efuse.csi.fuse.FuseOpcode;
import io.efuse.csi.volume.EfuseMounter;
import io.efuse.csi.volume.VolumeException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * ControllerModifyVolume on a staged volume, over the CSI socket, with real eFuse sessions: the tier changes on the
 * live session for the files opened from then on, with the same mount and the files kept open still working; what
 * only a new session can have (the kernel's writeback cache, passthrough on a session that did not negotiate it) is
 * reported as waiting and is in effect after the volume is unstaged and staged again.
 */
class CsiModifyVolumeTest {
    private static final int FILE = 64 << 10;

    @TempDir
    Path tmp;

    private CsiTestDriver d;
    /** Every session the node served, in order: a new one means the volume was mounted again. */
    private final Map<String, List<EfuseMount>> sessions = new ConcurrentHashMap<>();

    @BeforeEach
    void start() throws IOException {
        Capabilities.assumeFuse();
        d = new CsiTestDriver(tmp, new EfuseMounter(2, (id, mount) -> {
            sessions.computeIfAbsent(id, k -> new CopyOnWriteArrayList<>()).add(mount);
            return () -> { };
        }), tmp.resolve("backing"));
    }

    @AfterEach
    void stop() throws InterruptedException {
        if (d != null) {
            d.close();
        }
    }

    private String create(String name, Map<String, String> parameters) {
        return d.controller.createVolume(Csi.CreateVolumeRequest.newBuilder().setName(name)
                .addVolumeCapabilities(CsiTestDriver.rwo()).putAllParameters(parameters)
                .setCapacityRange(Csi.CapacityRange.newBuilder().setRequiredBytes(16 << 20)).build()).getVolume()
                .getVolumeId();
    }

    private void modify(String id, Map<String, String> mutable) {
        d.controller.controllerModifyVolume(Csi.ControllerModifyVolumeRequest.newBuilder().setVolumeId(id)
                .putAllMutableParams(mutable).build());
    }

    private EfuseMount session(String id) {
        List<EfuseMount> s = sessions.get(id);
        return s.get(s.size() - 1);
    }

    private String controllerCondition(String id) {
        var c = d.controller.controllerGetVolume(Csi.ControllerGetVolumeRequest.newBuilder().setVolumeId(id).build())
                .getStatus().getVolumeCondition();
        assertFalse(c.getAbnormal(), c.getMessage());
        return c.getMessage();
    }

    private String nodeCondition(String id, Path staging) {
        var c = d.node.nodeGetVolumeStats(Csi.NodeGetVolumeStatsRequest.newBuilder().setVolumeId(id)
                .setVolumePath(staging.toString()).build()).getVolumeCondition();
        assertFalse(c.getAbnormal(), c.getMessage());
        return c.getMessage();
    }

    /** The mount's id in /proc/self/mountinfo (its first field): a remount would have a new one. */
    private static String mountId(Path mountPoint) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
            String[] f = line.split(" ");
            if (f[4].equals(mountPoint.toString())) {
                return f[0];
            }
        }
        throw new AssertionError(mountPoint + " is not mounted");
    }

    /** Files written into the volume's directory before it is staged: the mount has none of their pages cached. */
    private byte[] seed(String id, String... names) throws IOException, VolumeException {
        byte[] data = new byte[FILE];
        new Random(7).nextBytes(data);
        Path dir = d.roots.local().serve(id);
        for (String n : names) {
            Files.write(dir.resolve(n), data);
        }
        return data;
    }

    private static byte[] readAll(FileChannel ch) throws IOException {
        ByteBuffer b = ByteBuffer.allocate((int) ch.size());
        ch.position(0);
        while (b.hasRemaining() && ch.read(b) >= 0) {
            // reads until the buffer is full
        }
        return b.array();
    }

    private static byte[] read(Path p) throws IOException {
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            return readAll(ch);
        }
    }

    @Test
    void aNewTierTakesEffectOnTheLiveMountForFilesOpenedAfterIt() throws IOException, VolumeException {
        String id = create("retier", Map.of());
        byte[] data = seed(id, "kept", "after", "again");
        Path staging = tmp.resolve("staging");
        d.stage(id, staging);
        EfuseMount mount = session(id);
        Assumptions.assumeTrue(mount.tier() == Tier.PASSTHROUGH, "this kernel offers no FUSE passthrough");
        String mountId = mountId(staging);

        try (FileChannel kept = FileChannel.open(staging.resolve("kept"), StandardOpenOption.READ)) {
            long reads = mount.requests(FuseOpcode.READ);
            assertArrayEquals(data, readAll(kept));
            assertEquals(reads, mount.requests(FuseOpcode.READ), "a passthrough file's data bypasses the daemon");
            long passthroughOpens = mount.stats().passthroughOpenedTotal();

            modify(id, Map.of("tier", "classic"));
            assertEquals(mountId, mountId(staging), "the same mount");
            assertEquals(1, sessions.get(id).size(), "no new session");
            assertEquals(Tier.CLASSIC, mount.tier());
            assertEquals("ready", controllerCondition(id));
            assertTrue(nodeCondition(id, staging).endsWith("tier classic)"), nodeCondition(id, staging));

            assertArrayEquals(data, read(staging.resolve("after")));
            assertTrue(mount.requests(FuseOpcode.READ) > reads, "a file opened after the change is read by the daemon");
            assertEquals(passthroughOpens, mount.stats().passthroughOpenedTotal());
            long before = mount.requests(FuseOpcode.READ);
            assertArrayEquals(data, read(staging.resolve("kept")), "a second open of a file kept open in passthrough");
            assertTrue(mount.requests(FuseOpcode.READ) > before, "its data comes through the daemon too");
            assertArrayEquals(data, readAll(kept), "the file kept open since before the change still reads");

            modify(id, Map.of("tier", "passthrough"));
            long readsNow = mount.requests(FuseOpcode.READ);
            assertArrayEquals(data, read(staging.resolve("again")));
            assertEquals(readsNow, mount.requests(FuseOpcode.READ), "passthrough again for files opened now");
            assertEquals(passthroughOpens + 1, mount.stats().passthroughOpenedTotal());
        }
        assertEquals(mountId, mountId(staging));
        assertEquals(Tier.PASSTHROUGH, mount.tier());
    }

    @Test
    void theWritebackCacheWaitsForTheNextStagingAndIsReportedUntilThen() throws IOException {
        String id = create("writeback", Map.of("tier", "classic"));
        Path staging = tmp.resolve("staging");
        d.stage(id, staging);
        Files.writeString(staging.resolve("open"), "kept");
        String mountId = mountId(staging);
        assertFalse(session(id).writebackCache());

        try (FileChannel kept = FileChannel.open(staging.resolve("open"), StandardOpenOption.READ)) {
            modify(id, Map.of("writebackCache", "true"));
            assertEquals(mountId, mountId(staging), "the same mount");
            assertFalse(session(id).writebackCache(), "INIT fixed the writeback cache");
            assertEquals("ready; waiting for the next staging: writebackCache=true", controllerCondition(id));
            assertTrue(nodeCondition(id, staging).endsWith("waiting for the next staging: writebackCache=true"),
                    nodeCondition(id, staging));
            assertArrayEquals("kept".getBytes(), readAll(kept));
        }

        d.unstage(id, staging);
        d.stage(id, staging);
        assertEquals(2, sessions.get(id).size(), "mounted again, by a new session");
        assertTrue(session(id).writebackCache(), "the new session has the writeback cache");
        assertEquals("ready", controllerCondition(id));
        assertTrue(nodeCondition(id, staging).endsWith("tier classic)"), nodeCondition(id, staging));
        assertEquals("kept", Files.readString(staging.resolve("open")));
    }

    @Test
    void passthroughOnASessionThatDidNotNegotiateItWaitsForTheNextStaging() throws IOException {
        String id = create("to-passthrough", Map.of("tier", "classic"));
        Path staging = tmp.resolve("staging");
        d.stage(id, staging);
        String mountId = mountId(staging);

        modify(id, Map.of("tier", "passthrough"));
        assertEquals(mountId, mountId(staging));
        assertEquals(Tier.CLASSIC, session(id).tier(), "INIT did not negotiate FUSE_PASSTHROUGH");
        assertEquals("ready; waiting for the next staging: tier=passthrough", controllerCondition(id));

        d.unstage(id, staging);
        Assumptions.assumeTrue(kernelOffersPassthrough(), "this kernel offers no FUSE passthrough");
        d.stage(id, staging);
        assertEquals(Tier.PASSTHROUGH, session(id).tier());
        assertEquals("ready", controllerCondition(id));
    }

    /** Whether a session asking for the best tier gets passthrough here. */
    private boolean kernelOffersPassthrough() throws IOException {
        String probe = create("probe", Map.of());
        Path staging = tmp.resolve("probe-staging");
        d.stage(probe, staging);
        try {
            return session(probe).tier() == Tier.PASSTHROUGH;
        } finally {
            d.unstage(probe, staging);
        }
    }
}
