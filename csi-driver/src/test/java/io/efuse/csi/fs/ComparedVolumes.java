package io.efuse.csi.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.efuse.csi.bpf.EfuseCacheCounters;
import io.efuse.csi.testing.Capabilities;
import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A native directory and one real eFuse mount per tier (classic and passthrough), shared by the tests
 * of one class. Every test works in fresh, empty subdirectories of both, runs the same operations in
 * each and compares what it saw. Register with {@code @RegisterExtension static final ComparedVolumes}.
 * Everything lives in one temporary tree (mode 0755, so a non-root caller can reach it), removed after
 * the class; the mounts are unmounted first.
 *
 * <p>With the system property {@value #KERNEL_CACHE_PROGRAM} naming a cache program (efuse_cache.bpf.o), every
 * mount runs on the efuse tier instead: the program must attach, entry and attribute timeouts are 0 so that every
 * name and stat goes through FUSE (and so through the program) rather than the kernel's own caches, and the class
 * fails unless the program answered requests: the same comparisons then show that its answers are never stale.
 * The VM test of kernel/ runs the suite so on the patched kernel.
 */
final class ComparedVolumes implements BeforeAllCallback, AfterAllCallback {
    static final String KERNEL_CACHE_PROGRAM = "efuse.it.kernelCacheProgram";
    /**
     * A storage engine (btrfs, image, daemon): the native directory and the mounts' backing directories are then
     * volumes of that engine, so that the comparisons run on what a PVC of it stands on.
     */
    static final String ENGINE = "efuse.it.engine";
    private static final long ENGINE_VOLUME_BYTES = 1024L << 20;

    /** Where one test works: the native directory, the same-named directory in the mount, and behind it. */
    record Workspace(Path nativeDir, Path mountDir, Path backingDir, EfuseMount mount) {}

    private final Map<Tier, EfuseMount> mounts = new EnumMap<>(Tier.class);
    private final Map<Tier, Path> backings = new EnumMap<>(Tier.class);
    private final AtomicInteger workspaces = new AtomicInteger();
    private final UnaryOperator<MountOptions.Builder> options;
    private Path root;
    private Path nativeRoot;
    private io.efuse.csi.testing.EngineVolumes engineVolumes;

    /** Mounts with the default options. */
    ComparedVolumes() {
        this(UnaryOperator.identity());
    }

    /** Mounts with options adjusted by the given function (tier and workers are set by the fixture). */
    ComparedVolumes(UnaryOperator<MountOptions.Builder> options) {
        this.options = options;
    }

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        Capabilities.assumeFuse();
        root = Files.createTempDirectory("efuse-it-");
        open(root);
        String engine = System.getProperty(ENGINE, "");
        if (!engine.isBlank()) {
            engineVolumes = io.efuse.csi.testing.EngineVolumes.open(root, engine);
            System.out.println(context.getDisplayName() + ": native directory and backings are " + engine
                    + " volumes");
        }
        nativeRoot = engineVolumes != null ? engineVolumes.volume("native", ENGINE_VOLUME_BYTES)
                : Files.createDirectory(root.resolve("native"));
        open(nativeRoot);
        for (Tier tier : new Tier[] {Tier.CLASSIC, Tier.PASSTHROUGH}) {
            String n = tier.name().toLowerCase();
            Path backing = engineVolumes != null ? engineVolumes.volume("backing-" + n, ENGINE_VOLUME_BYTES)
                    : Files.createDirectory(root.resolve("backing-" + n));
            Path mnt = Files.createDirectory(root.resolve("mnt-" + n));
            open(backing);
            open(mnt);
            backings.put(tier, backing);
            mounts.put(tier, mount(options.apply(MountOptions.builder(backing, mnt)).tier(tier).workers(2)));
        }
    }

    private static EfuseMount mount(MountOptions.Builder options) throws IOException {
        String program = System.getProperty(KERNEL_CACHE_PROGRAM);
        if (program == null || program.isBlank()) {
            return EfuseMount.mount(options.build());
        }
        EfuseMount m = EfuseMount.mount(options.timeouts(Duration.ZERO).build(),
                new KernelCacheOptions(KernelCacheMode.AUTO, Path.of(program)));
        if (!m.kernelCacheAttached()) {
            String why = m.kernelCacheStatus();
            m.close();
            throw new IllegalStateException(KERNEL_CACHE_PROGRAM + " is set but the cache program did not attach to "
                    + m.mountPoint() + ": " + why);
        }
        return m;
    }

    private static void open(Path p) throws IOException {
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    @Override
    public void afterAll(ExtensionContext context) throws Exception {
        long answered = 0;
        for (EfuseMount m : mounts.values()) {
            EfuseCacheCounters c = m.kernelCacheCounters();
            answered += c.lookup().hit() + c.getattr().hit() + c.read().hit();
            if (m.kernelCacheAttached()) {
                System.out.println(context.getDisplayName() + " " + m.tier() + ": in-kernel cache LOOKUP "
                        + c.lookup() + "; GETATTR " + c.getattr() + "; READ " + c.read());
            }
            m.close();
        }
        boolean wanted = !System.getProperty(KERNEL_CACHE_PROGRAM, "").isBlank();
        mounts.clear();
        if (engineVolumes != null) {
            engineVolumes.close();
            engineVolumes = null;
        }
        if (root != null) {
            deleteTree(root);
        }
        if (wanted && answered == 0) {
            throw new AssertionError("the in-kernel cache answered nothing during " + context.getDisplayName()
                    + ": the comparisons did not exercise it");
        }
    }

    EfuseMount mount(Tier tier) {
        return mounts.get(tier);
    }

    Path nativeRoot() {
        return nativeRoot;
    }

    Path mountRoot(Tier tier) {
        return mounts.get(tier).mountPoint();
    }

    Path backingRoot(Tier tier) {
        return backings.get(tier);
    }

    /** Fresh empty directories with the same name natively and in the tier's mount (mode 0755). */
    Workspace workspace(Tier tier) throws IOException {
        String name = "w" + workspaces.incrementAndGet();
        Path nativeDir = Files.createDirectory(nativeRoot.resolve(name));
        Path mountDir = Files.createDirectory(mountRoot(tier).resolve(name));
        open(nativeDir);
        open(mountDir);
        return new Workspace(nativeDir, mountDir, backings.get(tier).resolve(name), mounts.get(tier));
    }

    /**
     * Runs the scenario in a fresh native directory and in a fresh directory of the tier's mount, and
     * asserts that both saw the same. Returns the workspace for checks that only make sense on one side.
     */
    Workspace compare(Tier tier, Scenario scenario) throws Exception {
        return compare(tier, workspace(tier), scenario);
    }

    /** As {@link #compare(Tier, Scenario)}, in a workspace the test prepared. */
    Workspace compare(Tier tier, Workspace w, Scenario scenario) throws Exception {
        Observations onNative = new Observations();
        scenario.run(w.nativeDir(), onNative);
        Observations onEfuse = new Observations();
        scenario.run(w.mountDir(), onEfuse);
        if (Boolean.getBoolean("efuse.it.print")) {
            System.out.println("---- " + w.mountDir() + "\n" + onEfuse);
        }
        assertEquals(onNative.toString(), onEfuse.toString(),
                "eFuse (" + tier + ") differs from the native filesystem");
        return w;
    }

    static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        Files.walkFileTree(p, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
                Files.delete(dir);
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
