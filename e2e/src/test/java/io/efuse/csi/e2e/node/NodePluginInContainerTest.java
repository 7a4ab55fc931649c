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

/**
 * The driver image running privileged with the DaemonSet's host mounts, and this test playing kubelet on the
 * plugin socket: stage, publish, write through the host-side target, restart the container, unpublish, unstage.
 * The driver runs as `efuse-csi standalone` (controller and node in one process, the local state store), since
 * no API server is here to hold the volumes' custom resources.
 */
@Tag("docker")
class NodePluginInContainerTest {

    private static final Duration READY_BOUND = Duration.ofSeconds(60);
    private static String image;

    private NodeHostDirs dirs;
    private final String container = "efuse-e2e-" + UUID.randomUUID().toString().substring(0, 8);

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
        var logs = DockerCli.run(Duration.ofSeconds(30), "logs", "--tail", "40", container);
        if (logs.exitCode() == 0 && !(logs.out() + logs.err()).isBlank()) {
            System.out.println("--- last log lines of " + container + "\n" + logs.out() + logs.err());
        }
        DockerCli.run(Duration.ofSeconds(60), "rm", "-f", container);
        dirs.close();
    }

    @Test
    void mountsMadeInTheContainerShowOnTheHostLikeWithBidirectionalPropagation() throws IOException {
        Path probe = dirs.kubelet.resolve("pods/p1/volumes/probe");
        Files.createDirectories(probe);
        start(List.of("--entrypoint", "sh"), List.of("-c", "mount -t tmpfs e2e-probe " + probe + " && sleep 600"));
        waitFor("the tmpfs made in the container to show on the host", () -> NodeHostDirs.isMountPoint(probe));
        DockerCli.run(Duration.ofSeconds(30), "exec", container, "umount", probe.toString()).orFail("umount in container");
        waitFor("the unmount in the container to show on the host", () -> !NodeHostDirs.isMountPoint(probe));
    }

    @Test
    void fuseMountServedInTheContainerIsUsableFromTheHostAndKeepsItsDataAfterTheContainerStops() throws IOException {
        Path mountPoint = dirs.kubelet.resolve("pods/p2/volumes/kubernetes.io~csi/v1/mount");
        Files.createDirectories(mountPoint);
        long started = System.nanoTime();
        start(List.of("--stop-timeout", "20"), List.of("mount", "--create", "--backing=/var/lib/efuse/volumes/v1",
                mountPoint.toString()));
        waitFor("the FUSE mount made in the container to show on the host", () -> NodeHostDirs.isMountPoint(mountPoint));
        var visibleAt = java.time.Instant.now();
        System.out.printf("eFuse mount visible on the host %d ms after `docker run`, %d ms after the process started%n",
                (System.nanoTime() - started) / 1_000_000, sinceProcessStart(visibleAt));

        Path file = mountPoint.resolve("data/hello.txt");
        Files.createDirectories(file.getParent());
        Files.writeString(file, "through FUSE from the host\n");
        assertEquals("through FUSE from the host\n", Files.readString(file));

        // SIGTERM unmounts cleanly: the host's mount goes away and the data stays in the backing directory
        DockerCli.run(Duration.ofSeconds(60), "stop", container).orFail("docker stop");
        waitFor("the unmount to reach the host", () -> !NodeHostDirs.isMountPoint(mountPoint));
        assertEquals("through FUSE from the host\n",
                Files.readString(dirs.efuseData.resolve("volumes/v1/data/hello.txt")));
        int exit = Integer.parseInt(DockerCli.run(Duration.ofSeconds(10), "inspect", "-f", "{{.State.ExitCode}}",
                container).orFail("docker inspect").out().strip());
        assertTrue(exit == 0 || exit == 128 + 15, "efuse-csi mount ended with exit code " + exit + " on SIGTERM");
    }

    @Test
    void kubeletLifecycleSurvivesAContainerRestart() throws Exception {
        Assumptions.assumeTrue(DriverImage.hasSubcommand(image, "standalone"),
                "the image's CLI has no `standalone` subcommand yet: the CSI services are not in this build");
        List<String> args = List.of("standalone", "--endpoint", "unix:///csi/csi.sock", "--node-id", "e2e-node",
                "--state-dir", "/var/lib/efuse/state", "--backing-root", "/var/lib/efuse/volumes");
        long started = System.nanoTime();
        start(List.of(), args);
        Path socket = dirs.plugin.resolve("csi.sock");
        try (CsiSocket csi = new CsiSocket(socket)) {
            awaitReady(csi);
            var readyAt = java.time.Instant.now();
            System.out.printf("node plugin ready %d ms after `docker run`, %d ms after the process started%n",
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

            DockerCli.run(Duration.ofSeconds(90), "restart", "-t", "20", container).orFail("docker restart");
            awaitReady(csi);

            if (DriverImage.hasOption(image, "standalone", "--keeper-socket")) {
                // With the node plugin handing its sessions to the fd keeper and the daemon (efuse-csi keep/fsd),
                // the mount stays connected through a restart: the pod reads its file without kubelet doing anything.
                waitFor("the file to be readable through the target after the restart",
                        () -> readOrNull(file) != null);
                assertEquals("written through the host-side target\n", Files.readString(file));
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
        String startedAt = DockerCli.run(Duration.ofSeconds(10), "inspect", "-f", "{{.State.StartedAt}}", container)
                .orFail("docker inspect").out().strip();
        return Duration.between(java.time.Instant.parse(startedAt), readyAt).toMillis();
    }

    private void start(List<String> dockerOptions, List<String> command) {
        List<String> args = new ArrayList<>(List.of("run", "-d", "--name", container));
        args.addAll(dirs.daemonSetMounts());
        args.addAll(dockerOptions);
        args.add(image);
        args.addAll(command);
        DockerCli.run(Duration.ofSeconds(120), args.toArray(String[]::new)).orFail("docker " + String.join(" ", args));
    }

    private void awaitReady(CsiSocket csi) throws Exception {
        waitFor("the plugin to answer Probe with ready", () -> {
            if (!Files.exists(dirs.plugin.resolve("csi.sock"))) {
                return false;
            }
            try {
                var probe = csi.identity().probe(Csi.ProbeRequest.getDefaultInstance());
                return !probe.hasReady() || probe.getReady().getValue();
            } catch (StatusRuntimeException e) {
                return false;
            }
        });
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

    /** Polls a condition every 50 ms until it holds or the bound passes. */
    private void waitFor(String what, Callable<Boolean> condition) throws IOException {
        long deadline = System.nanoTime() + READY_BOUND.toNanos();
        Exception last = null;
        for (int round = 0; System.nanoTime() < deadline; round++) {
            try {
                if (condition.call()) {
                    return;
                }
            } catch (Exception e) {
                last = e;
            }
            if (round % 20 == 19 && !what.startsWith("the unmount")) {
                var state = DockerCli.run(Duration.ofSeconds(10), "inspect", "-f", "{{.State.Status}}", container);
                if (state.exitCode() == 0 && state.out().strip().equals("exited")) {
                    throw new AssertionError("container " + container + " exited while waiting for " + what);
                }
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted waiting for " + what, e);
            }
        }
        throw new AssertionError("timed out after " + READY_BOUND + " waiting for " + what
                + (last == null ? "" : " (last error: " + last + ")"));
    }
}
