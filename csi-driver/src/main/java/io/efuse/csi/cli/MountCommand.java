package io.efuse.csi.cli;

import io.efuse.csi.bpf.BpfHost;
import io.efuse.csi.bpf.EfuseCacheCounters;
import io.efuse.csi.fs.EfuseMount;
import io.efuse.csi.fs.KernelCacheMode;
import io.efuse.csi.fs.KernelCacheOptions;
import io.efuse.csi.fs.MountException;
import io.efuse.csi.fs.MountOptions;
import io.efuse.csi.fs.Queues;
import io.efuse.csi.fs.Tier;
import io.efuse.csi.metrics.ListenAddress;
import io.efuse.csi.metrics.NodeTelemetry;
import io.efuse.csi.metrics.SessionTelemetry;
import io.efuse.csi.metrics.VolumeDirectory;
import io.efuse.csi.sys.LibC;
import io.efuse.csi.sys.LinuxConstants;
import io.efuse.csi.sys.MountTable;
import io.efuse.csi.sys.Syscalls;
import java.util.concurrent.atomic.AtomicReference;
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

    @Option(names = "--queues", defaultValue = "auto", paramLabel = "QUEUES",
            description = "Request transport: auto (io_uring when the kernel has it on), dev (/dev/fuse) or uring"
                    + " (per-CPU io_uring queues, fail if unavailable) (default: ${DEFAULT-VALUE}).")
    String queues;

    @Option(names = "--workers", paramLabel = "N", description = "Request threads (default: cores, at least 2).")
    Integer workers;

    @Option(names = "--max-workers", paramLabel = "N",
            description = "Let the eBPF monitor's load figures grow the workers up to N (default: 4 per core)."
                    + " Equal to --workers: a fixed pool.")
    Integer maxWorkers;

    @Option(names = "--timeout", defaultValue = "60", paramLabel = "SECONDS",
            description = "Entry and attribute cache timeout in seconds, may be fractional (default: ${DEFAULT-VALUE}).")
    double timeout;

    @Option(names = "--writeback-cache", description = "Let the kernel cache writes (classic tier).")
    boolean writeback;

    @Option(names = "--read-only", description = "Mount read-only.")
    boolean readOnly;

    @Option(names = "--create", description = "Create the backing directory and mount point if missing.")
    boolean create;

    @Option(names = "--kernel-cache", defaultValue = "auto", paramLabel = "MODE",
            description = "In-kernel cache of the efuse tier: auto (an eBPF program answers LOOKUP, GETATTR and READ"
                    + " from maps the daemon keeps, when the kernel offers the eFuse hook) or off"
                    + " (default: ${DEFAULT-VALUE}).")
    String kernelCache;

    @Option(names = "--kernel-cache-program", paramLabel = "FILE",
            description = "The cache program (efuse_cache.bpf.o); default: the file named by"
                    + " EFUSE_KERNEL_CACHE_PROGRAM, else the copy the jar carries.")
    Path kernelCacheProgram;

    @Option(names = "--metrics-address", paramLabel = "HOST:PORT",
            description = "Serve Prometheus metrics of this volume here (e.g. :9810); default: none.")
    String metricsAddress;

    /** A signal that came while the mount was being made: detach it if it is an eFuse mount. */
    private static void detachIfOurs(Path target) {
        try {
            if (MountTable.find(target).filter(e -> e.fsType().startsWith("fuse.efuse")).isPresent()) {
                Syscalls.umount(target, LinuxConstants.MNT_DETACH | LinuxConstants.UMOUNT_NOFOLLOW);
            }
        } catch (IOException ignored) {
            // nothing mounted after all
        }
    }

    private static void closeQuietly(AutoCloseable c) {
        if (c == null) {
            return;
        }
        try {
            c.close();
        } catch (Exception ignored) {
            // telemetry of a volume that is gone
        }
    }

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
        Queues q;
        KernelCacheMode kc;
        try {
            t = Tier.parse(tier);
            q = Queues.parse(queues);
            kc = KernelCacheMode.parse(kernelCache);
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
            MountOptions.Builder b = MountOptions.builder(backing, mountPoint).tier(t).queues(q)
                    .timeouts(Duration.ofNanos((long) (timeout * 1e9))).writebackCache(writeback).readOnly(readOnly);
            if (workers != null) {
                b.workers(workers);
            }
            MountOptions options = b.build();
            // Registered before mounting, so that a signal at any moment leaves no mount behind.
            AtomicReference<EfuseMount> mounted = new AtomicReference<>();
            AtomicReference<NodeTelemetry> telemetryRef = new AtomicReference<>();
            AtomicReference<AutoCloseable> published = new AtomicReference<>();
            Path target = mountPoint.toAbsolutePath().normalize();
            Thread hook = new Thread(() -> {
                EfuseMount m = mounted.get();
                if (m != null) {
                    m.close();
                } else {
                    detachIfOurs(target);
                }
                closeQuietly(published.get());
                closeQuietly(telemetryRef.get());
            }, "efuse-unmount");
            Runtime.getRuntime().addShutdownHook(hook);
            EfuseMount mount;
            try {
                mount = EfuseMount.mount(options, new KernelCacheOptions(kc, kernelCacheProgram));
            } catch (IOException | RuntimeException e) {
                Runtime.getRuntime().removeShutdownHook(hook);
                throw e;
            }
            mounted.set(mount);
            // The eBPF monitor (loaded, or reused from its pins) counts this volume's requests; without
            // BPF the volume is served all the same and the reason is logged once.
            NodeTelemetry telemetry = NodeTelemetry.start(BpfHost.system(), VolumeDirectory.DEFAULT_STATE_DIR,
                    metricsAddress == null ? null : ListenAddress.parse(metricsAddress));
            telemetryRef.set(telemetry);
            int min = options.workers();
            int max = maxWorkers != null ? maxWorkers : Math.max(min, SessionTelemetry.defaultMaxWorkers());
            if (max < min) {
                throw new IllegalArgumentException("--max-workers " + max + " is below --workers " + min);
            }
            published.set(new SessionTelemetry(telemetry, max).served(options.fsName(), mount));
            System.err.printf("efuse-csi: %s mounted at %s (backing %s): FUSE 7.%d, tier=%s, queues=%s, workers=%d%n",
                    options.fsName(), mount.mountPoint(), backing.toAbsolutePath(), mount.protocolMinor(),
                    mount.tier().label(), mount.queues().label(), mount.stats().workers());
            System.err.printf("efuse-csi: in-kernel cache %s%n", mount.kernelCacheStatus());
            mount.awaitUnmount();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
                closeQuietly(published.get());
                closeQuietly(telemetryRef.get());
            } catch (IllegalStateException shuttingDown) {
                // the hook is running: the signal path unmounts and closes the telemetry
            }
            if (mount.kernelCacheAttached()) {
                EfuseCacheCounters k = mount.kernelCacheCounters();
                System.err.printf("efuse-csi: answered in the kernel: LOOKUP %s; GETATTR %s; READ %s%n", k.lookup(),
                        k.getattr(), k.read());
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
