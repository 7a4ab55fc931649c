package io.efuse.csi.fs;

import static org.junit.jupiter.api.Assertions.*;

import io.efuse.csi.fuse.FuseOpcode;
import io.efuse.csi.sys.MountTable;
import io.efuse.csi.testing.ProcessRunner;
import io.efuse.csi.testing.RequiresFuse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

@RequiresFuse
class EfuseMountTest {
    @TempDir
    Path tmp;
    Path backing;
    Path mnt;

    @BeforeEach
    void dirs() throws Exception {
        backing = Files.createDirectory(tmp.resolve("backing"));
        mnt = Files.createDirectory(tmp.resolve("mnt"));
    }

    @ParameterizedTest
    @EnumSource(value = Tier.class, names = {"CLASSIC", "PASSTHROUGH"})
    void mountServesTheBackingTreeOnTheTierAskedFor(Tier tier) throws Exception {
        Files.writeString(backing.resolve("before"), "from the backing dir");
        try (EfuseMount m = EfuseMount.mount(MountOptions.builder(backing, mnt).tier(tier).build())) {
            assertEquals(tier, m.tier());
            assertTrue(m.protocolMinor() >= 31);
            var entry = MountTable.find(mnt).orElseThrow();
            assertEquals("fuse.efuse", entry.fsType());
            assertEquals(entry.minor(), m.connectionId());
            assertEquals("from the backing dir", Files.readString(mnt.resolve("before")));
            Files.writeString(mnt.resolve("after"), "through the mount");
            assertEquals("through the mount", Files.readString(backing.resolve("after")));
            if (tier == Tier.PASSTHROUGH) {
                assertTrue(m.stats().passthroughOpenedTotal() >= 2, "regular files were opened with passthrough");
                assertEquals(0, m.requests(FuseOpcode.READ), "passthrough reads never reach the daemon");
                assertEquals(0, m.requests(FuseOpcode.WRITE), "passthrough writes never reach the daemon");
            } else {
                assertTrue(m.requests(FuseOpcode.WRITE) > 0);
            }
        }
        assertFalse(MountTable.isMountPoint(mnt), "close() unmounts");
    }

    @Test
    void writesAskNoCapabilityXattrOfTheDaemon() throws Exception {
        try (EfuseMount m = EfuseMount.mount(MountOptions.builder(backing, mnt).tier(Tier.CLASSIC).build())) {
            Path f = mnt.resolve("f");
            try (var ch = java.nio.channels.FileChannel.open(f, java.nio.file.StandardOpenOption.CREATE,
                    java.nio.file.StandardOpenOption.WRITE)) {
                var buf = java.nio.ByteBuffer.allocate(4096);
                for (int i = 0; i < 200; i++) {
                    buf.clear();
                    ch.write(buf, (long) i * 4096);
                }
            }
            // A mixed workload: reads after writes must not refresh attributes, which would re-arm the
            // kernel's security.capability check for the next write.
            try (var ch = java.nio.channels.FileChannel.open(f, java.nio.file.StandardOpenOption.READ,
                    java.nio.file.StandardOpenOption.WRITE)) {
                var buf = java.nio.ByteBuffer.allocate(4096);
                for (int i = 0; i < 200; i++) {
                    buf.clear();
                    ch.write(buf, (long) i * 4096);
                    buf.clear();
                    ch.read(buf, (long) ((i * 7) % 200) * 4096);
                }
            }
            assertEquals(400, m.requests(FuseOpcode.WRITE));
            assertTrue(m.requests(FuseOpcode.GETXATTR) <= 2,
                    "security.capability asked once per open, not per write: " + m.requests(FuseOpcode.GETXATTR));
            assertTrue(m.requests(FuseOpcode.GETATTR) <= 4,
                    "reads do not refresh attributes: " + m.requests(FuseOpcode.GETATTR));
        }
    }

    @Test
    void invalidateMakesChangesBehindTheMountVisibleDespiteLongTimeouts() throws Exception {
        Path f = Files.writeString(backing.resolve("f"), "x");
        // Mounting sets the process umask to 0, so modes here are set explicitly.
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-r--r--"));
        Files.createDirectory(backing.resolve("d"));
        try (EfuseMount m = EfuseMount.mount(MountOptions.builder(backing, mnt).timeouts(Duration.ofHours(1)).build())) {
            assertEquals("rw-r--r--", PosixFilePermissions.toString(Files.getPosixFilePermissions(mnt.resolve("f"))));
            assertFalse(Files.exists(mnt.resolve("d/new")));
            Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rwx------"));
            Files.writeString(backing.resolve("d/new"), "y");
            // Cached by the kernel for an hour: the change is not seen yet...
            assertEquals("rw-r--r--", PosixFilePermissions.toString(Files.getPosixFilePermissions(mnt.resolve("f"))));
            assertFalse(Files.exists(mnt.resolve("d/new")));
            m.invalidate("f");
            m.invalidate("d/new");
            // ...until the daemon says so.
            assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(mnt.resolve("f"))));
            assertTrue(Files.exists(mnt.resolve("d/new")));
            assertThrows(java.io.IOException.class, () -> m.invalidate("../outside"),
                    "paths leaving the backing root are refused");
        }
    }

    @Test
    void busyMountPointIsRefusedClearly() throws Exception {
        try (EfuseMount m = EfuseMount.mount(MountOptions.builder(backing, mnt).build())) {
            MountException e = assertThrows(MountException.class,
                    () -> EfuseMount.mount(MountOptions.builder(backing, mnt).build()));
            assertEquals(MountException.Reason.BUSY, e.reason());
            assertTrue(e.getMessage().contains("busy"), e.getMessage());
        }
    }

    @Test
    void missingBackingDirectoryIsRefusedClearly() {
        MountException e = assertThrows(MountException.class,
                () -> EfuseMount.mount(MountOptions.builder(tmp.resolve("nope"), mnt).build()));
        assertEquals(MountException.Reason.BAD_BACKING, e.reason());
        assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
    }

    @Test
    void unmountFromOutsideEndsTheSession() throws Exception {
        EfuseMount m = EfuseMount.mount(MountOptions.builder(backing, mnt).build());
        try {
            io.efuse.csi.sys.Syscalls.umount(mnt, 0);
            assertTrue(m.awaitUnmount(10, TimeUnit.SECONDS), "workers stop when the kernel ends the connection");
            assertFalse(m.alive());
        } finally {
            m.close();
        }
    }

    @ParameterizedTest
    @EnumSource(value = Tier.class, names = {"CLASSIC", "PASSTHROUGH"})
    void oDirectReadsAndWritesWork(Tier tier) throws Exception {
        byte[] data = new byte[64 * 1024];
        new java.util.Random(7).nextBytes(data);
        Files.write(backing.resolve("f"), data);
        try (EfuseMount m = EfuseMount.mount(MountOptions.builder(backing, mnt).tier(tier).build())) {
            var p = new ProcessBuilder("dd", "if=" + mnt.resolve("f"), "of=" + tmp.resolve("copy"), "bs=4096",
                    "iflag=direct", "status=none").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes());
            assertEquals(0, p.waitFor(), out);
            assertArrayEquals(data, Files.readAllBytes(tmp.resolve("copy")));
            p = new ProcessBuilder("dd", "if=" + tmp.resolve("copy"), "of=" + mnt.resolve("g"), "bs=4096",
                    "oflag=direct", "status=none").redirectErrorStream(true).start();
            out = new String(p.getInputStream().readAllBytes());
            assertEquals(0, p.waitFor(), out);
            assertArrayEquals(data, Files.readAllBytes(backing.resolve("g")));
        }
    }

    @Test
    void aBackingFilesystemWithoutAclsIsServedWithoutThem() throws Exception {
        Acls.assumeTools();
        Path fsop = io.efuse.csi.testing.CProgram.compile("fsop");
        // ramfs keeps no xattrs at all: the kernel must not be told to check ACLs it could never fetch.
        Path ram = Files.createDirectory(tmp.resolve("ram"));
        io.efuse.csi.sys.Syscalls.mount("efuse-noacl-test", ram, "ramfs", 0, "mode=0755");
        try {
            Path nativeDir = Files.createDirectory(ram.resolve("native"));
            Path ramBacking = Files.createDirectory(ram.resolve("backing"));
            try (EfuseMount m = EfuseMount.mount(MountOptions.builder(ramBacking, mnt).tier(Tier.CLASSIC).build())) {
                String onNative = noAcls(nativeDir, fsop);
                String onEfuse = noAcls(mnt, fsop);
                assertTrue(onNative.contains("Operation not supported"), onNative);
                assertEquals(onNative, onEfuse);
                // The one difference: a FUSE superblock always says it has ACLs, so the kernel checks ownership
                // before it asks the daemon, and a caller who does not own the file hears EPERM, not EOPNOTSUPP.
                assertEquals("exit 1: setfacl: f: Operation not supported",
                        Acls.setfaclAs(nativeDir, 65534, 65534, null, "-m", "u:65534:rwx", "f"));
                assertEquals("exit 1: setfacl: f: Operation not permitted",
                        Acls.setfaclAs(mnt, 65534, 65534, null, "-m", "u:65534:rwx", "f"));
            }
        } finally {
            io.efuse.csi.sys.Syscalls.umount(ram, 0);
        }
    }

    private static String noAcls(Path dir, Path fsop) throws Exception {
        Files.writeString(dir.resolve("f"), "x");
        Posix.chmod(dir.resolve("f"), 0666);
        Files.createDirectory(dir.resolve("d"));
        var created = ProcessRunner.run(java.util.List.of(fsop.toString(), "umask 077",
                "creat d/g 0666", "mkdir d/sub 0777", "stat d/g", "stat d/sub"), dir, Duration.ofSeconds(60));
        return Acls.setfacl(dir, "-m", "u:65534:---", "f") + " " + Acls.setfacl(dir, "-d", "-m", "u:65534:rwx", "d")
                + Acls.getfacl(dir, "f") + " " + Posix.getxattr(dir.resolve("f"), "system.posix_acl_access", 0) + " "
                + Posix.listxattr(dir.resolve("f"), "system.") + "\n" + created.output();
    }
}
