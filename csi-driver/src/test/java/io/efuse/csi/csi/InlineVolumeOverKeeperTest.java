package io.efuse.csi.csi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import csi.v1.Csi;
import io.efuse.csi.fsd.FdKeeper;
import io.efuse.csi.fsd.MountProbe;
import io.efuse.csi.fsd.NodeProcesses;
import io.efuse.csi.sys.MountTable;
import io.efuse.csi.testing.RequiresFuse;
import io.efuse.csi.volume.KeeperMounter;
import io.efuse.csi.volume.VolumeIds;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * An inline volume whose session the eFuse daemon ({@code efuse-csi fsd}, a child process) serves, as the chart
 * runs it: the node plugin restarts between publish and unpublish, the pod's mount stays up, kubelet's retried
 * publish adopts the live session, and the unpublish sent to a restarted node plugin still deletes everything.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
@RequiresFuse
class InlineVolumeOverKeeperTest {
    private static final String HANDLE = CsiInlineVolumeTest.HANDLE;

    @TempDir
    Path dir;
    private NodeProcesses processes;
    private FdKeeper keeper;
    private CsiTestDriver d;

    @BeforeEach
    void setUp() throws IOException {
        processes = new NodeProcesses(dir);
        startNodePlugin();
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

    private void startNodePlugin() throws IOException {
        keeper = FdKeeper.start(processes.socket());
        d = new CsiTestDriver(dir, new KeeperMounter(keeper, dir.resolve("run"), 2, Duration.ofSeconds(60)),
                dir.resolve("backing"), null, CsiTestDriver.Inline.ALLOWED);
    }

    /** The node plugin stops (an upgrade, a crash): its keeper goes, nothing is unmounted. */
    private void restartNodePlugin() throws IOException, InterruptedException {
        d.stopProcess();
        d = null;
        keeper.close();
        keeper = null;
        startNodePlugin();
    }

    private static String mountId(Path path) throws IOException {
        String found = null;
        for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
            String[] f = line.split(" ");
            if (f[4].equals(path.toString())) {
                found = f[0];
            }
        }
        return found;
    }

    @Test
    void aNodePluginRestartKeepsThePodsInlineVolumeAndTheNextUnpublishDeletesIt() throws Exception {
        processes.fsd();
        String id = VolumeIds.inlineId(HANDLE);
        Path target = dir.resolve("kubelet/pods/p1/volumes/kubernetes.io~csi/scratch/mount");
        Path staging = dir.resolve("state/inline-staging").resolve(id);
        var publish = CsiInlineVolumeTest.kubeletPublish(HANDLE, target, Map.of("size", "64Mi")).build();
        d.node.nodePublishVolume(publish);
        Files.writeString(target.resolve("note"), "served by the daemon\n");
        String stagingMount = mountId(staging);
        String targetMount = mountId(target);
        assertTrue(keeper.held(id).isPresent(), "the keeper holds the inline volume's descriptors");

        restartNodePlugin();
        assertEquals("served by the daemon\n", Files.readString(target.resolve("note")), "the pod's mount stayed up");
        d.node.nodePublishVolume(publish); // kubelet's retry of a publish it was unsure of
        assertEquals(stagingMount, mountId(staging), "the live session was adopted, not mounted again");
        assertEquals(targetMount, mountId(target), "the pod's target was left as it was");
        Files.writeString(target.resolve("later"), "after the restart\n");
        assertEquals(64L << 20, d.node.nodeGetVolumeStats(Csi.NodeGetVolumeStatsRequest.newBuilder()
                .setVolumeId(HANDLE).setVolumePath(target.toString()).build()).getUsage(0).getTotal());

        restartNodePlugin();
        d.unpublish(HANDLE, target);
        List<String> left = MountTable.read().stream().map(MountTable.Entry::mountPoint)
                .filter(m -> Path.of(m).startsWith(dir)).toList();
        assertEquals(List.of(), left, "no mount is left");
        assertTrue(keeper.held(id).isEmpty(), "the keeper let the volume go");
        for (Path p : List.of(target, staging, dir.resolve("backing/volumes").resolve(id),
                dir.resolve("state/inline").resolve(id + ".json"), dir.resolve("run").resolve(id))) {
            assertFalse(Files.exists(p, LinkOption.NOFOLLOW_LINKS), p + " is removed");
        }
    }
}
