package io.efuse.csi.fs;

import static org.junit.jupiter.api.Assertions.*;

import io.efuse.csi.testing.ProcessRunner;
import io.efuse.csi.testing.RequiresFuse;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * When the backing tree fails under the daemon (removed, read-only, full, immutable), applications get a clean
 * errno at once, nothing hangs, and the mount and the other volumes keep serving.
 */
@RequiresFuse
class BackingFailureTest {
    @TempDir
    Path dir;
    private EfuseMount mount;
    private Path backing;
    private Path mnt;

    @BeforeEach
    void mount() throws IOException {
        backing = Files.createDirectories(dir.resolve("backing"));
        mnt = Files.createDirectories(dir.resolve("mnt"));
        mount = EfuseMount.mountRecoverable(MountOptions.builder(backing, mnt).tier(Tier.CLASSIC).workers(2)
                .timeouts(Duration.ofSeconds(60)).build(), dir.resolve("state"));
    }

    @AfterEach
    void unmount() {
        if (mount != null) {
            mount.close();
        }
    }

    /** Runs an application step on the mount with a bound: a hang fails the test instead of blocking it. */
    private static <T> T bounded(Callable<T> step) throws Exception {
        CompletableFuture<T> f = new CompletableFuture<>();
        Thread.ofPlatform().daemon(true).start(() -> {
            try {
                f.complete(step.call());
            } catch (Throwable t) {
                f.completeExceptionally(t);
            }
        });
        try {
            return f.get(10, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            if (e.getCause() instanceof Exception x) {
                throw x;
            }
            throw e;
        }
    }

    @Test
    void removedBackingDirectoriesGiveENOENTWithoutHangingAndTheMountServesOn() throws Exception {
        Files.createDirectories(backing.resolve("sub"));
        Files.writeString(backing.resolve("sub/file"), "data");
        assertEquals("data", Files.readString(mnt.resolve("sub/file")));
        // Removed behind the daemon's back (an operator, a broken volume).
        Files.delete(backing.resolve("sub/file"));
        Files.delete(backing.resolve("sub"));
        IOException e = assertThrows(IOException.class, () -> bounded(() -> Files.writeString(mnt.resolve("sub/new"), "x")));
        assertTrue(e.getMessage().contains("sub/new"), e.toString());
        assertEquals("ok", bounded(() -> {
            Files.writeString(mnt.resolve("other"), "ok");
            return Files.readString(mnt.resolve("other"));
        }), "the mount still serves the rest of the tree");
        // The whole backing directory goes.
        Files.delete(backing.resolve("other"));
        Files.delete(backing);
        assertThrows(IOException.class, () -> bounded(() -> Files.writeString(mnt.resolve("again"), "x")));
        assertTrue(mount.alive(), "the daemon still serves (statfs, errors) instead of dying");
        assertNotNull(bounded(() -> Files.getFileStore(mnt).getTotalSpace()));
    }

    @Test
    void aBackingTreeThatRefusesWritesGivesTheApplicationThatErrnoAtOnce() throws Exception {
        // The daemon acts for callers the kernel already checked, so what refuses it is the backing
        // filesystem itself: here a read-only bind mount over part of the tree (as an operator or a
        // failing disk remounted read-only would leave it).
        Path ro = Files.createDirectories(backing.resolve("ro"));
        Files.writeString(ro.resolve("file"), "before");
        io.efuse.csi.sys.Syscalls.mount(ro.toString(), ro, null, io.efuse.csi.sys.LinuxConstants.MS_BIND, null);
        try {
            io.efuse.csi.sys.Syscalls.mount("none", ro, null, io.efuse.csi.sys.LinuxConstants.MS_REMOUNT
                    | io.efuse.csi.sys.LinuxConstants.MS_BIND | io.efuse.csi.sys.LinuxConstants.MS_RDONLY, null);
            IOException e = assertThrows(IOException.class,
                    () -> bounded(() -> Files.writeString(mnt.resolve("ro/file"), "after")));
            assertTrue(e.getMessage().contains("Read-only file system"), e.toString());
            assertThrows(IOException.class, () -> bounded(() -> Files.createFile(mnt.resolve("ro/new"))));
            assertEquals("before", bounded(() -> Files.readString(mnt.resolve("ro/file"))), "reads still work");
            assertEquals("ok", bounded(() -> {
                Files.writeString(mnt.resolve("elsewhere"), "ok");
                return Files.readString(mnt.resolve("elsewhere"));
            }), "the rest of the volume is still writable");
        } finally {
            io.efuse.csi.sys.Syscalls.umount(ro, io.efuse.csi.sys.LinuxConstants.MNT_DETACH);
        }
        assertTrue(mount.alive());
    }

    @OnBothTiers
    void aFullBackingFilesystemGivesENOSPCWhileTheOtherVolumesServeOn(Tier tier) throws Exception {
        // A backing filesystem of its own, 8 MiB: the volume on it fills it, the one of @BeforeEach does not.
        Path small = Files.createDirectories(dir.resolve("small"));
        io.efuse.csi.sys.Syscalls.mount("efuse-full-test", small, "tmpfs", 0, "size=8m");
        EfuseMount full = null;
        try {
            Path fullBacking = Files.createDirectories(small.resolve("backing"));
            Path fullMnt = Files.createDirectories(dir.resolve("full-mnt"));
            full = EfuseMount.mountRecoverable(MountOptions.builder(fullBacking, fullMnt).tier(tier).workers(2)
                    .timeouts(Duration.ofSeconds(60)).build(), dir.resolve("full-state"));
            byte[] mib = new byte[1 << 20];
            java.util.Arrays.fill(mib, (byte) 7);
            IOException e = assertThrows(IOException.class, () -> bounded(() -> {
                try (var out = Files.newOutputStream(fullMnt.resolve("big"))) {
                    for (int i = 0; i < 16; i++) {
                        out.write(mib);
                    }
                }
                return null;
            }));
            assertTrue(String.valueOf(e.getMessage()).contains("No space left on device"), e.toString());
            assertThrows(IOException.class, () -> bounded(() -> {
                try (var out = Files.newOutputStream(fullMnt.resolve("more"))) {
                    out.write(mib);
                }
                return null;
            }), "still full");
            assertEquals("ok", bounded(() -> {
                Files.writeString(mnt.resolve("elsewhere"), "ok");
                return Files.readString(mnt.resolve("elsewhere"));
            }), "a volume on another backing filesystem serves on");
            assertTrue(bounded(() -> Files.size(fullMnt.resolve("big"))) > 0, "what was written is readable");
            Path fm = fullMnt;
            bounded(() -> {
                Files.delete(fm.resolve("big"));
                Files.deleteIfExists(fm.resolve("more"));
                return null;
            });
            assertEquals(1 << 20, (long) bounded(() -> {
                Files.write(fm.resolve("after"), mib);
                return Files.size(fm.resolve("after"));
            }), "space freed is usable again");
            assertTrue(full.alive());
        } finally {
            if (full != null) {
                full.close();
            }
            io.efuse.csi.sys.Syscalls.umount(small, io.efuse.csi.sys.LinuxConstants.MNT_DETACH);
        }
    }

    @Test
    void aBackingFileTheKernelRefusesToChangeGivesEPERMAtOnce() throws Exception {
        // chattr +i / +a: even root may not write; the daemon gets EPERM and passes it on.
        Files.writeString(backing.resolve("frozen"), "kept");
        Files.writeString(backing.resolve("log"), "line 1\n");
        chattr("+i", backing.resolve("frozen"));
        chattr("+a", backing.resolve("log"));
        try {
            IOException e = assertThrows(IOException.class,
                    () -> bounded(() -> Files.writeString(mnt.resolve("frozen"), "changed")));
            assertTrue(e.getMessage().contains("Operation not permitted"), e.toString());
            assertThrows(IOException.class, () -> bounded(() -> {
                Files.delete(mnt.resolve("frozen"));
                return null;
            }));
            assertEquals("kept", bounded(() -> Files.readString(mnt.resolve("frozen"))), "reads still work");
            assertThrows(IOException.class, () -> bounded(() -> Files.writeString(mnt.resolve("log"), "overwritten")),
                    "an append-only file cannot be truncated and rewritten");
            assertEquals("line 1\n", bounded(() -> Files.readString(mnt.resolve("log"))));
            assertEquals("ok", bounded(() -> {
                Files.writeString(mnt.resolve("other"), "ok");
                return Files.readString(mnt.resolve("other"));
            }));
        } finally {
            chattr("-i", backing.resolve("frozen"));
            chattr("-a", backing.resolve("log"));
        }
        assertTrue(mount.alive());
    }

    private static void chattr(String flag, Path file) throws Exception {
        ProcessRunner.Result r = ProcessRunner.run(Duration.ofSeconds(10), "chattr", flag, file.toString());
        org.junit.jupiter.api.Assumptions.assumeTrue(r.ok(),
                "skipped: the backing filesystem of the test directory has no immutable/append-only flags: "
                        + r.output());
    }
}
