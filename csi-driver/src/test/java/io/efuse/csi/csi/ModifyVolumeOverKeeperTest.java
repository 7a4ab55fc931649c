package io.efuse.csi.csi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import csi.v1.Csi;
import io.efuse.csi.testing.Capabilities;
import io.efuse.csi.fsd.FdKeeper;
import io.efuse.csi.fsd.MountProbe;
import io.efuse.csi.fsd.NodeProcesses;
import io.efuse.csi.sys.MountTable;
import io.efuse.csi.volume.KeeperMounter;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * ControllerModifyVolume on a volume that {@code efuse-csi fsd} (a child process) serves behind the node plugin's fd
 * keeper, over the CSI socket: the new tier reaches the daemon's live session on the same connection (FdKeeperTest
 * shows the files opened after it on the new tier, and a daemon taking over keeping it); the writeback cache is
 * reported as waiting until the volume is staged again.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class ModifyVolumeOverKeeperTest {
    private static final Duration BOUND = Duration.ofSeconds(120);

    @TempDir
    Path dir;
    private NodeProcesses processes;
    private FdKeeper keeper;
    private CsiTestDriver d;

    @BeforeEach
    void setUp() throws IOException {
        Capabilities.assumeFuse();
        processes = new NodeProcesses(dir);
        keeper = FdKeeper.start(processes.socket());
        d = new CsiTestDriver(dir, new KeeperMounter(keeper, dir.resolve("run"), 2, Duration.ofSeconds(60)),
                dir.resolve("backing"));
    }

    @AfterEach
    void tearDown() throws Exception {
        if (d != null) {
            d.close();
        }
        if (processes != null) {
            processes.close();
        }
        if (keeper != null) {
            keeper.close();
        }
        for (MountTable.Entry e : MountTable.read().reversed()) {
            if (Path.of(e.mountPoint()).startsWith(dir)) {
                MountProbe.repair(Path.of(e.mountPoint()), Duration.ofSeconds(2));
            }
        }
        CsiTestDriver.unmountEverythingUnder(dir);
    }

    private String condition(String id, Path staging) {
        var c = d.node.nodeGetVolumeStats(Csi.NodeGetVolumeStatsRequest.newBuilder().setVolumeId(id)
                .setVolumePath(staging.toString()).build()).getVolumeCondition();
        assertFalse(c.getAbnormal(), c.getMessage());
        return c.getMessage();
    }

    private void modify(String id, Map<String, String> mutable) {
        d.controller.controllerModifyVolume(Csi.ControllerModifyVolumeRequest.newBuilder().setVolumeId(id)
                .putAllMutableParams(mutable).build());
    }

    @Test
    void theDaemonsLiveSessionTakesTheNewTier() throws Exception {
        processes.fsd();
        String id = d.create("over-keeper", 16 << 20).getVolumeId();
        Path staging = dir.resolve("staging");
        d.stage(id, staging);
        Assumptions.assumeTrue(condition(id, staging).contains("tier passthrough"),
                "this kernel offers no FUSE passthrough: " + condition(id, staging));
        Files.writeString(staging.resolve("kept"), "written before");
        long connection = MountTable.find(staging).orElseThrow().minor();

        try (BufferedReader kept = Files.newBufferedReader(staging.resolve("kept"))) {
            modify(id, Map.of("tier", "classic"));
            assertTrue(condition(id, staging).endsWith("tier classic)"), condition(id, staging));
            assertEquals(connection, MountTable.find(staging).orElseThrow().minor(), "the same connection");
            Files.writeString(staging.resolve("after"), "written after");
            assertEquals("written after", Files.readString(staging.resolve("after")));

            assertEquals("written before", kept.readLine(), "a file kept open since before the change");
        }
        assertEquals("written after", Files.readString(staging.resolve("after")));
    }

    @Test
    void theWritebackCacheIsReportedWaitingUntilTheVolumeIsStagedAgain() throws Exception {
        NodeProcesses.Child fsd = processes.fsd();
        String id = d.controller.createVolume(Csi.CreateVolumeRequest.newBuilder().setName("wb")
                .addVolumeCapabilities(CsiTestDriver.rwo()).putParameters("tier", "classic")
                .setCapacityRange(Csi.CapacityRange.newBuilder().setRequiredBytes(16 << 20)).build())
                .getVolume().getVolumeId();
        Path staging = dir.resolve("staging");
        d.stage(id, staging);
        long connection = MountTable.find(staging).orElseThrow().minor();

        modify(id, Map.of("writebackCache", "true"));
        assertTrue(condition(id, staging).endsWith("waiting for the next staging: writebackCache=true"),
                condition(id, staging));
        assertEquals(connection, MountTable.find(staging).orElseThrow().minor(), "the same connection");

        d.unstage(id, staging);
        d.stage(id, staging);
        assertTrue(condition(id, staging).endsWith("tier classic)"), condition(id, staging));
        String staged = Files.readString(fsd.log());
        assertTrue(staged.contains("writeback=true"), "the new session negotiated the writeback cache:\n" + staged);
    }
}
