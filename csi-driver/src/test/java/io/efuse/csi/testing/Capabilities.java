package io.efuse.csi.testing;

import io.efuse.csi.bpf.FuseMonitor;
import io.efuse.csi.sys.LibC;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Assumptions;

/**
 * What a test needs of the machine, each as the reason it cannot run here (empty when it can). Root is the
 * effective uid, the one the kernel checks: {@code user.name} says who logged in, not what the process may do.
 * Each check asks no more than what its tests really use, since in CI every one of these tests must run.
 */
public final class Capabilities {
    static final Path DEV_FUSE = Path.of("/dev/fuse");
    static final Path KERNEL_BTF = Path.of("/sys/kernel/btf/vmlinux");

    private Capabilities() {}

    /** Mounts, loop devices, other users' files: effective uid 0. */
    public static Optional<String> missingForRoot() {
        return rootMissing(LibC.geteuid(), "this test needs root (effective uid 0)");
    }

    /** Mounting FUSE: root (CAP_SYS_ADMIN) and a kernel or container with /dev/fuse. */
    public static Optional<String> missingForFuse() {
        return rootMissing(LibC.geteuid(), "mounting FUSE needs root (CAP_SYS_ADMIN); run the suite as root")
                .or(() -> Files.exists(DEV_FUSE) ? Optional.empty()
                        : Optional.of("/dev/fuse is missing, this kernel or container has no FUSE"));
    }

    /** Loading the monitor's BPF programs: root, a kernel with BTF, and the object the build compiled. */
    public static Optional<String> missingForBpf() {
        return rootMissing(LibC.geteuid(), "loading BPF programs needs root (effective uid 0)")
                .or(() -> Files.isReadable(KERNEL_BTF) ? Optional.empty()
                        : Optional.of("the kernel has no BTF (" + KERNEL_BTF + ")"))
                .or(() -> FuseMonitor.class.getResource(FuseMonitor.OBJECT_RESOURCE) != null ? Optional.empty()
                        : Optional.of("the build has no " + FuseMonitor.OBJECT_RESOURCE + " (built with -Dbpf.skip)"));
    }

    static Optional<String> rootMissing(int effectiveUid, String reason) {
        return effectiveUid == 0 ? Optional.empty() : Optional.of(reason + ", effective uid is " + effectiveUid);
    }

    /** For fixtures that cannot carry {@link RequiresRoot}: skips the calling test, saying why. */
    public static void assumeRoot() {
        assume(missingForRoot());
    }

    /** For fixtures that cannot carry {@link RequiresFuse}. */
    public static void assumeFuse() {
        assume(missingForFuse());
    }

    /** For fixtures that cannot carry {@link RequiresBpf}. */
    public static void assumeBpf() {
        assume(missingForBpf());
    }

    private static void assume(Optional<String> missing) {
        Assumptions.assumeTrue(missing.isEmpty(), () -> "skipped: " + missing.orElseThrow());
    }
}
