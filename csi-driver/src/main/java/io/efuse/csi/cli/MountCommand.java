package io.efuse.csi.cli;

import io.efuse.csi.fs.EfuseMount;
import io.efuse.csi.fs.MountException;
import io.efuse.csi.fs.MountOptions;
import io.efuse.csi.fs.Tier;
import io.efuse.csi.sys.LibC;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code efuse-csi mount}: serves one eFuse volume in the foreground until it is unmounted or signalled. */
@Command(name = "mount", mixinStandardHelpOptions = true,
        description = "Mount an eFuse volume over a backing directory and serve it in the foreground"
                + " until it is unmounted or the process is signalled (SIGTERM/SIGINT unmount cleanly).")
final class MountCommand implements Callable<Integer> {
    @Option(names = "--backing", required = true, paramLabel = "DIR", description = "Backing directory.")
    Path backing;

    @Parameters(index = "0", paramLabel = "MOUNTPOINT", description = "Where the volume appears.")
    Path mountPoint;

    @Option(names = "--tier", defaultValue = "auto", paramLabel = "TIER",
            description = "Data path: auto, classic or passthrough (default: ${DEFAULT-VALUE}).")
    String tier;

    @Option(names = "--workers", paramLabel = "N", description = "Request threads (default: cores, at least 2).")
    Integer workers;

    @Option(names = "--timeout", defaultValue = "60", paramLabel = "SECONDS",
            description = "Entry and attribute cache timeout in seconds, may be fractional (default: ${DEFAULT-VALUE}).")
    double timeout;

    @Option(names = "--writeback-cache", description = "Let the kernel cache writes (classic tier).")
    boolean writeback;

    @Option(names = "--read-only", description = "Mount read-only.")
    boolean readOnly;

    @Option(names = "--create", description = "Create the backing directory and mount point if missing.")
    boolean create;

    @Override
    public Integer call() {
        if (LibC.geteuid() != 0) {
            System.err.println("efuse-csi mount: must run as root (mounting FUSE needs CAP_SYS_ADMIN)");
            return ExitCodes.NOT_PERMITTED;
        }
        if (!Files.exists(Path.of("/dev/fuse"))) {
            System.err.println("efuse-csi mount: /dev/fuse is missing: this kernel or container has no FUSE");
            return ExitCodes.NO_FUSE;
        }
        Tier t;
        try {
            t = Tier.parse(tier);
        } catch (IllegalArgumentException e) {
            System.err.println("efuse-csi mount: " + e.getMessage());
            return ExitCodes.USAGE;
        }
        if (timeout < 0 || Double.isNaN(timeout)) {
            System.err.println("efuse-csi mount: --timeout must be zero or positive");
            return ExitCodes.USAGE;
        }
        try {
            if (create) {
                Files.createDirectories(backing);
                Files.createDirectories(mountPoint);
            }
            MountOptions.Builder b = MountOptions.builder(backing, mountPoint).tier(t)
                    .timeouts(Duration.ofNanos((long) (timeout * 1e9))).writebackCache(writeback).readOnly(readOnly);
            if (workers != null) {
                b.workers(workers);
            }
            MountOptions options = b.build();
            EfuseMount mount = EfuseMount.mount(options);
            Thread hook = new Thread(mount::close, "efuse-unmount");
            Runtime.getRuntime().addShutdownHook(hook);
            System.err.printf("efuse-csi: %s mounted at %s (backing %s): FUSE 7.%d, tier=%s, workers=%d%n",
                    options.fsName(), mount.mountPoint(), backing.toAbsolutePath(), mount.protocolMinor(),
                    mount.tier().label(), mount.stats().workers());
            mount.awaitUnmount();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running: the signal path unmounts
            }
            System.err.println("efuse-csi: " + mount.mountPoint() + " unmounted");
            return ExitCodes.OK;
        } catch (MountException e) {
            System.err.println("efuse-csi mount: " + e.getMessage());
            return ExitCodes.of(e.reason());
        } catch (IllegalArgumentException e) {
            System.err.println("efuse-csi mount: " + e.getMessage());
            return ExitCodes.USAGE;
        } catch (IOException e) {
            System.err.println("efuse-csi mount: " + e.getMessage());
            return ExitCodes.FAILED;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return ExitCodes.FAILED;
        }
    }
}
