package io.efuse.csi.e2e.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import csi.v1.Csi;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Callable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The driver image running privileged with the DaemonSet's host mounts, and this test playing kubelet on the
 * plugin socket: stage, publish, write through the host-side target, restart the container, unpublish, unstage.
 * The driver runs as `efuse-csi standalone` (controller and node in one process, the local state store), since
 * no API server is here to hold the volumes' custom resources; where the image has the fd keeper, the filesystem
 * daemon runs beside it in a container of its own, as the chart's two DaemonSets do.
 */
@Tag("docker")
class NodePluginInContainerTest {

    private static final Duration READY_BOUND = Duration.ofSeconds(60);
    private static String image;

    @RegisterExtension
    final OwnedContainers containers = new OwnedContainers();

    private NodeHostDirs dirs;
    private final String container = "efuse-e2e-" + UUID.randomUUID().toString().substring(0, 8);
    private final String daemonContainer = container + "-fsd";
    /** The container whose exit ends a wait: the node plugin's. */
    private NodeContainer plugin;

    @BeforeAll
    static void build() {
        image = DriverImage.require();
    }

    @BeforeEach
    void hostDirs() throws IOException {
        dirs = new NodeHostDirs();
    }

    @AfterEach
    void cleanUp() throws IOException {
        // the containers are gone by now: OwnedContainers removes them when the test method ends
        dirs.close();
    }

    @Test
    void mountsMadeInTheContainerShowOnTheHostLikeWithBidirectionalPropagation() throws Exception {
        Path probe = dirs.kubelet.resolve("pods/p1/volumes/probe");
        Files.createDirectories(probe);
        plugin = node(container).withEntrypoint("sh")
                .withCommand("-c", "mount -t tmpfs e2e-probe " + probe + " && sleep 600")
                .waitingFor(HostCondition.until("the tmpfs made in the container to show on the host",
                        () -> NodeHostDirs.isMountPoint(probe)).withStartupTimeout(READY_BOUND));
        plugin.start();
        plugin.execOrFail("umount", probe.toString());
        waitFor("the unmount in the container to show on the host", () -> !NodeHostDirs.isMountPoint(probe));
    }

    @Test
    void fuseMountServedInTheContainerIsUsableFromTheHostAndKeepsItsDataAfterTheContainerStops() throws IOException {
        Path mountPoint = dirs.kubelet.resolve("pods/p2/volumes/kubernetes.io~csi/v1/mount");
        Files.createDirectories(mountPoint);
        long started = System.nanoTime();
        plugin = node(container).withStopTimeout(Duration.ofSeconds(20))
                .withCommand("mount", "--create", "--backing=/var/lib/efuse/volumes/v1", mountPoint.toString())
                .waitingFor(HostCondition.until("the FUSE mount made in the container to show on the host",
                        () -> NodeHostDirs.isMountPoint(mountPoint)).withStartupTimeout(READY_BOUND));
        plugin.start();
        var visibleAt = java.time.Instant.now();
        System.out.printf("eFuse mount visible on the host %d ms after the container's create, %d ms after the process"
                + " started%n", (System.nanoTime() - started) / 1_000_000, sinceProcessStart(visibleAt));

        Path file = mountPoint.resolve("data/hello.txt");
        Files.createDirectories(file.getParent());
        Files.writeString(file, "through FUSE from the host\n");
        assertEquals("through FUSE from the host\n", Files.readString(file));

        // SIGTERM unmounts cleanly: the host's mount goes away and the data stays in the backing directory
        plugin.dockerStop();
        waitFor("the unmount to reach the host", () -> !NodeHostDirs.isMountPoint(mountPoint));
        assertEquals("through FUSE from the host\n",
                Files.readString(dirs.efuseData.resolve("volumes/v1/data/hello.txt")));
        long exit = plugin.exitCode();
        assertTrue(exit == 0 || exit == 128 + 15, "efuse-csi mount ended with exit code " + exit + " on SIGTERM");
    }

    @Test
    void kubeletLifecycleSurvivesAContainerRestart() throws Exception {
        Assumptions.assumeTrue(DriverImage.hasSubcommand(image, "standalone"),
                "the image's CLI has no `standalone` subcommand yet: the CSI services are not in this build");
        List<String> args = new ArrayList<>(List.of("standalone", "--endpoint", "unix:///csi/csi.sock", "--node-id",
                "e2e-node", "--state-dir", "/var/lib/efuse/state", "--backing-root", "/var/lib/efuse/volumes"));
        boolean keeps = DriverImage.hasOption(image, "standalone", "--keeper-socket");
        if (keeps) {
            // The chart's fsd DaemonSet: its own container, sharing /run/efuse (the socket, the volumes' state).
            args.addAll(List.of("--keeper-socket", "/run/efuse/keeper.sock"));
            // it waits for the keeper itself: running is all there is to wait for
            node(daemonContainer).withStopTimeout(Duration.ofSeconds(20))
                    .withCommand("fsd", "--socket", "/run/efuse/keeper.sock").start();
        }
        Path socket = dirs.plugin.resolve("csi.sock");
        try (CsiSocket csi = new CsiSocket(socket)) {
            long started = System.nanoTime();
            plugin = node(container).withCommand(args.toArray(String[]::new))
                    .waitingFor(HostCondition.until("the plugin to answer Probe with ready", () -> probeReady(csi))
                            .withStartupTimeout(READY_BOUND));
            plugin.start();
            var readyAt = java.time.Instant.now();
            System.out.printf("node plugin ready %d ms after the container's create, %d ms after the process started%n",
                    (System.nanoTime() - started) / 1_000_000, sinceProcessStart(readyAt));

            Csi.VolumeCapability rwo = Csi.VolumeCapability.newBuilder()
                    .setMount(Csi.VolumeCapability.MountVolume.getDefaultInstance())
                    .setAccessMode(Csi.VolumeCapability.AccessMode.newBuilder()
                            .setMode(Csi.VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER))
                    .build();
            String volumeId = csi.controller().createVolume(Csi.CreateVolumeRequest.newBuilder()
                    .setName("pvc-" + container)
                    .setCapacityRange(Csi.CapacityRange.newBuilder().setRequiredBytes(64L << 20))
                    .addVolumeCapabilities(rwo)
                    .build()).getVolume().getVolumeId();

            Path staging = dirs.kubelet.resolve("plugins/kubernetes.io/csi/efuse.csi.io/" + volumeId + "/globalmount");
            Path target = dirs.kubelet.resolve("pods/" + UUID.randomUUID() + "/volumes/kubernetes.io~csi/" + volumeId + "/mount");
            Files.createDirectories(staging);
            Files.createDirectories(target.getParent());
            stageAndPublish(csi, volumeId, rwo, staging, target);

            // the pod's side: the host sees the FUSE mount at the target and writes through it
            assertTrue(NodeHostDirs.isMountPoint(target), "target is not a mount point on the host");
            Path file = target.resolve("hello.txt");
            Files.writeString(file, "written through the host-side target\n");
            assertEquals("written through the host-side target\n", Files.readString(file));

            plugin.restart(Duration.ofSeconds(20));
            awaitReady(csi);

            if (keeps) {
                // The daemon serves the session and holds its descriptors while the node plugin restarts: the pod
                // reads its file without kubelet doing anything, and kubelet's retried calls adopt the volume.
                waitFor("the file to be readable through the target after the restart",
                        () -> readOrNull(file) != null);
                assertEquals("written through the host-side target\n", Files.readString(file));
                String stagingMount = mountId(staging);
                stageAndPublish(csi, volumeId, rwo, staging, target);
                assertEquals(stagingMount, mountId(staging), "NodeStage after the restart adopted the live mount");
                Files.writeString(target.resolve("after.txt"), "written after the restart\n");
                assertEquals("written after the restart\n", Files.readString(target.resolve("after.txt")));
            } else {
                System.out.println("restart survival of the live mount not checked: the node plugin still serves its"
                        + " FUSE sessions in-process; it keeps them across restarts once it hands them to the fd keeper"
                        + " (`standalone --keeper-socket`, not in this image)");
            }

            // What kubelet does when the pod is recreated: unpublish and unstage (the old mounts may be dead),
            // then stage and publish again. The data written before the restart is there.
            unpublishAndUnstage(csi, volumeId, staging, target);
            stageAndPublish(csi, volumeId, rwo, staging, target);
            assertEquals("written through the host-side target\n", Files.readString(file));

            unpublishAndUnstage(csi, volumeId, staging, target);
            assertFalse(NodeHostDirs.isMountPoint(target), "target still mounted after NodeUnpublishVolume");
            assertFalse(NodeHostDirs.isMountPoint(staging), "staging path still mounted after NodeUnstageVolume");
            // idempotent, as kubelet retries
            unpublishAndUnstage(csi, volumeId, staging, target);
            csi.controller().deleteVolume(Csi.DeleteVolumeRequest.newBuilder().setVolumeId(volumeId).build());
        }
    }

    /** Milliseconds since the container's process started (docker's StartedAt), without docker's own set-up. */
    private long sinceProcessStart(java.time.Instant readyAt) {
        return Duration.between(plugin.processStartedAt(), readyAt).toMillis();
    }

    /** The mount id (mountinfo's first field) of the topmost mount at path on the host; a new mount has a new one. */
    private static String mountId(Path path) throws IOException {
        String found = null;
        for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
            String[] f = line.split(" ");
            if (f.length > 4 && f[4].equals(path.toString())) {
                found = f[0];
            }
        }
        return found;
    }

    /** A container of the image with the DaemonSet's privileges and host mounts, removed when the test ends. */
    private NodeContainer node(String name) {
        return containers.add(new NodeContainer(image, dirs, name));
    }

    private void awaitReady(CsiSocket csi) throws IOException {
        waitFor("the plugin to answer Probe with ready", () -> probeReady(csi));
    }

    private boolean probeReady(CsiSocket csi) {
        if (!Files.exists(dirs.plugin.resolve("csi.sock"))) {
            return false;
        }
        try {
            var probe = csi.identity().probe(Csi.ProbeRequest.getDefaultInstance());
            return !probe.hasReady() || probe.getReady().getValue();
        } catch (StatusRuntimeException e) {
            return false;
        }
    }

    private static void stageAndPublish(CsiSocket csi, String volumeId, Csi.VolumeCapability cap, Path staging, Path target) {
        csi.node().nodeStageVolume(Csi.NodeStageVolumeRequest.newBuilder().setVolumeId(volumeId)
                .setStagingTargetPath(staging.toString()).setVolumeCapability(cap).build());
        csi.node().nodePublishVolume(Csi.NodePublishVolumeRequest.newBuilder().setVolumeId(volumeId)
                .setStagingTargetPath(staging.toString()).setTargetPath(target.toString())
                .setVolumeCapability(cap).build());
    }

    private static void unpublishAndUnstage(CsiSocket csi, String volumeId, Path staging, Path target) {
        csi.node().nodeUnpublishVolume(Csi.NodeUnpublishVolumeRequest.newBuilder().setVolumeId(volumeId)
                .setTargetPath(target.toString()).build());
        csi.node().nodeUnstageVolume(Csi.NodeUnstageVolumeRequest.newBuilder().setVolumeId(volumeId)
                .setStagingTargetPath(staging.toString()).build());
    }

    private static String readOrNull(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            return null;
        }
    }

    /** Polls a condition every 50 ms until it holds or the bound passes, or the node plugin's container exits. */
    private void waitFor(String what, Callable<Boolean> condition) throws IOException {
        NodeContainer watched = what.startsWith("the unmount") ? null : plugin;
        try {
            HostCondition.await(what, condition, READY_BOUND, container, () -> watched != null && watched.exited());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted waiting for " + what, e);
        }
    }
}
