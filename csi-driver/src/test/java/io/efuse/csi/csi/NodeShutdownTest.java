package io.efuse.csi.csi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import csi.v1.Csi;
import io.efuse.csi.testing.Capabilities;
import io.efuse.csi.fsd.MountProbe;
import io.efuse.csi.sys.MountTable;
import io.efuse.csi.volume.EfuseMounter;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The node plugin's shutdown with in-process sessions: every session ends at once, the targets stay kubelet's, and a
 * connection still bound at a target is aborted rather than waited for.
 */
class NodeShutdownTest {
    private static final int VOLUMES = 4;

    @TempDir
    Path tmp;

    private CsiTestDriver d;

    @BeforeEach
    void start() throws IOException {
        Capabilities.assumeFuse();
        d = new CsiTestDriver(tmp, new EfuseMounter(1), tmp.resolve("backing"));
    }

    @AfterEach
    void stop() throws InterruptedException {
        if (d != null) {
            d.close();
        }
    }

    @Test
    void unstageAllAbortsConnectionsStillBoundAtTargetsAtOnceAndLeavesTheTargets() throws IOException {
        List<Path> stagings = new ArrayList<>();
        List<Path> targets = new ArrayList<>();
        for (int i = 0; i < VOLUMES; i++) {
            String id = d.controller.createVolume(Csi.CreateVolumeRequest.newBuilder().setName("pvc-" + i)
                    .addVolumeCapabilities(CsiTestDriver.rwo()).putParameters("engine", "daemon")
                    .setCapacityRange(Csi.CapacityRange.newBuilder().setRequiredBytes(16L << 20)).build())
                    .getVolume().getVolumeId();
            Path staging = tmp.resolve("kubelet/staging").resolve(id);
            Path target = tmp.resolve("kubelet/pods").resolve(id).resolve("mount");
            d.stage(id, staging);
            d.publish(id, staging, target, false);
            stagings.add(staging);
            targets.add(target);
        }

        long t = System.nanoTime();
        d.nodeService.unstageAll(Duration.ofSeconds(20));
        long ms = (System.nanoTime() - t) / 1_000_000;

        // Waiting for workers that cannot end would take most of the 20 s grace.
        assertTrue(ms < 5_000, "unstageAll took " + ms + " ms for " + VOLUMES + " volumes bound at targets");
        for (Path staging : stagings) {
            assertFalse(MountTable.isMountPoint(staging), staging + " is still mounted");
        }
        for (Path target : targets) {
            assertEquals(MountProbe.State.DEAD, MountProbe.probe(target, Duration.ofSeconds(2)),
                    target + ": kubelet's target stays, on an aborted connection");
        }
    }
}
