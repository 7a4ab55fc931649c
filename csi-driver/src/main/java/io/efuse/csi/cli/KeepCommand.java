package io.efuse.csi.cli;

import io.efuse.csi.fs.MountOptions;
import io.efuse.csi.fs.Tier;
import io.efuse.csi.fsd.FdKeeper;
import io.efuse.csi.fsd.MountProbe;
import io.efuse.csi.sys.LibC;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code efuse-csi keep}: the fd keeper outside Kubernetes (the node plugin embeds the same
 * {@link FdKeeper}). Mounts the given volumes through the daemon that connects, repairs mount points
 * left on dead connections, and holds every connection's device descriptors until it is stopped.
 */
@Command(name = "keep", mixinStandardHelpOptions = true,
        description = "Hold the /dev/fuse descriptors of eFuse volumes so that they survive restarts of the"
                + " daemon (efuse-csi fsd), and mount the --volume list through it.")
final class KeepCommand implements Callable<Integer> {
    @Option(names = "--socket", required = true, paramLabel = "PATH", description = "Unix socket to listen on.")
    Path socket;

    @Option(names = "--state-root", defaultValue = "/run/efuse", paramLabel = "DIR",
            description = "Where volumes keep their recoverable state, one directory each (default: ${DEFAULT-VALUE};"
                    + " tmpfs).")
    Path stateRoot;

    @Option(names = "--volume", paramLabel = "ID=BACKING:MOUNTPOINT[:TIER[:WORKERS]]",
            description = "A volume to serve (repeatable).")
    List<String> volumes = new ArrayList<>();

    @Option(names = "--timeout", defaultValue = "60", paramLabel = "SECONDS",
            description = "Entry and attribute cache timeout of the volumes (default: ${DEFAULT-VALUE}).")
    double timeout;

    @Option(names = "--wait", defaultValue = "60", paramLabel = "SECONDS",
            description = "How long to wait for a daemon before giving up on mounting (default: ${DEFAULT-VALUE}).")
    long waitSeconds;

    @Override
    public Integer call() {
        if (LibC.geteuid() != 0) {
            System.err.println("efuse-csi keep: must run as root");
            return ExitCodes.NOT_PERMITTED;
        }
        List<String[]> specs = new ArrayList<>();
        for (String v : volumes) {
            int eq = v.indexOf('=');
            String[] parts = eq < 0 ? new String[0] : v.substring(eq + 1).split(":");
            if (eq <= 0 || parts.length < 2 || !v.substring(0, eq).matches("[A-Za-z0-9._-]+")) {
                System.err.println("efuse-csi keep: --volume " + v + ": expected ID=BACKING:MOUNTPOINT[:TIER[:WORKERS]]"
                        + " with an ID of letters, digits, '.', '_' or '-'");
                return ExitCodes.USAGE;
            }
            specs.add(new String[] {v.substring(0, eq), parts[0], parts[1], parts.length > 2 ? parts[2] : "auto",
                    parts.length > 3 ? parts[3] : ""});
        }
        try (FdKeeper keeper = FdKeeper.start(socket)) {
            CountDownLatch stop = new CountDownLatch(1);
            Runtime.getRuntime().addShutdownHook(new Thread(stop::countDown, "efuse-keeper-stop"));
            System.err.println("efuse-csi keep: pid " + ProcessHandle.current().pid() + ", listening on " + socket);
            if (!specs.isEmpty()) {
                if (!keeper.awaitDaemon(Duration.ofSeconds(waitSeconds))) {
                    System.err.println("efuse-csi keep: no daemon (efuse-csi fsd --socket " + socket + ") within "
                            + waitSeconds + " s");
                    return ExitCodes.FAILED;
                }
                for (String[] s : specs) {
                    mount(keeper, s);
                }
            }
            System.err.println("efuse-csi keep: ready");
            stop.await();
            return ExitCodes.OK;
        } catch (IOException | IllegalArgumentException e) {
            System.err.println("efuse-csi keep: " + e.getMessage());
            return ExitCodes.FAILED;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return ExitCodes.FAILED;
        }
    }

    private void mount(FdKeeper keeper, String[] s) throws IOException, InterruptedException {
        String id = s[0];
        Path mountPoint = Path.of(s[2]).toAbsolutePath().normalize();
        if (keeper.serves(id)) {
            System.err.println("efuse-csi keep: " + id + " is already served by the daemon");
            return;
        }
        MountProbe.State was = MountProbe.repair(mountPoint, Duration.ofSeconds(2));
        if (was == MountProbe.State.DEAD || was == MountProbe.State.HUNG) {
            System.err.println("efuse-csi keep: " + mountPoint + " was left on a " + was.name().toLowerCase()
                    + " connection: cleared, mounting again");
        } else if (was == MountProbe.State.ALIVE) {
            throw new IOException(mountPoint + " is already a live mount that this keeper does not hold");
        }
        MountOptions.Builder b = MountOptions.builder(Path.of(s[1]).toAbsolutePath().normalize(), mountPoint)
                .tier(Tier.parse(s[3])).timeouts(Duration.ofNanos((long) (timeout * 1e9)));
        if (!s[4].isEmpty()) {
            b.workers(Integer.parseInt(s[4]));
        }
        Files.createDirectories(stateRoot);
        keeper.mount(id, b.build(), stateRoot.resolve(id), Duration.ofSeconds(30));
        System.err.println("efuse-csi keep: " + id + " mounted at " + mountPoint);
    }
}
