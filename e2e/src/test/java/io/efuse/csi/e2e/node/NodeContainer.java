package io.efuse.csi.e2e.node;

import com.github.dockerjava.api.model.Device;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.images.ImagePullPolicy;
import org.testcontainers.utility.DockerImageName;

/**
 * The driver image in a container with the node DaemonSet's privileges, /dev/fuse and host mounts, on docker's
 * default bridge network as `docker run` would put it. The image is the one images/build-driver-image made: no
 * registry is reachable, so nothing is ever pulled and a missing image fails the create.
 */
final class NodeContainer extends GenericContainer<NodeContainer> {

    private static final ImagePullPolicy LOCAL_ONLY = image -> false;

    /** docker's own default, used by {@link #dockerStop()} unless {@link #withStopTimeout} says otherwise. */
    private Duration stopTimeout = Duration.ofSeconds(10);
    private final String name;

    NodeContainer(String image, NodeHostDirs dirs, String name) {
        super(DockerImageName.parse(image));
        this.name = name;
        withImagePullPolicy(LOCAL_ONLY);
        withLabels(OwnedContainers.ownerLabels());
        setBinds(dirs.daemonSetBinds());
        Privileges.apply(this);
        // private IPC as `docker run` has it: Testcontainers falls back to API 1.32 where an engine refuses 1.44,
        // and below 1.40 the engine's default is shareable
        withCreateContainerCmdModifier(cmd -> cmd.withName(name).getHostConfig()
                .withDevices(new Device("rwm", "/dev/fuse", "/dev/fuse")).withIpcMode("private"));
    }

    NodeContainer withEntrypoint(String... entrypoint) {
        return withCreateContainerCmdModifier(cmd -> cmd.withEntrypoint(entrypoint));
    }

    /** As `--stop-timeout`: how long SIGTERM has before SIGKILL when docker stops the container. */
    NodeContainer withStopTimeout(Duration timeout) {
        stopTimeout = timeout;
        return withCreateContainerCmdModifier(cmd -> cmd.withStopTimeout((int) timeout.toSeconds()));
    }

    /**
     * As `docker stop`: SIGTERM, SIGKILL after the stop timeout; the container stays, to be inspected.
     * {@link #stop()} is Testcontainers' kill and remove.
     */
    void dockerStop() {
        getDockerClient().stopContainerCmd(getContainerId()).withTimeout((int) stopTimeout.toSeconds()).exec();
    }

    /** As `docker restart -t`: the same container, its process stopped and started again. */
    void restart(Duration timeout) {
        getDockerClient().restartContainerCmd(getContainerId()).withTimeout((int) timeout.toSeconds()).exec();
    }

    /** Runs a command in the running container and fails unless it exits 0. */
    ExecResult execOrFail(String... command) throws java.io.IOException, InterruptedException {
        ExecResult result = execInContainer(command);
        if (result.getExitCode() != 0) {
            throw new IllegalStateException(String.join(" ", command) + " in " + name + " failed (exit "
                    + result.getExitCode() + "): " + result.getStderr().strip() + " " + result.getStdout().strip());
        }
        return result;
    }

    String name() {
        return name;
    }

    boolean exited() {
        return "exited".equals(getCurrentContainerInfo().getState().getStatus());
    }

    long exitCode() {
        return getCurrentContainerInfo().getState().getExitCodeLong();
    }

    /** When the container's process last started (docker's StartedAt, after docker's own set-up). */
    Instant processStartedAt() {
        return Instant.parse(getCurrentContainerInfo().getState().getStartedAt());
    }

    /** The last lines of the container's output, stdout and stderr as they came. */
    String logTail(int lines) {
        List<String> all = getLogs().lines().toList();
        return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    }
}
