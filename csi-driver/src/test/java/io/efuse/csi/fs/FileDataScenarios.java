package io.efuse.csi.fs;

import static io.efuse.csi.sys.LinuxConstants.*;
import static java.nio.file.StandardOpenOption.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.efuse.csi.sys.Errno;
import io.efuse.csi.sys.LibC;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import io.efuse.csi.sys.Statx;
import io.efuse.csi.sys.Syscalls;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * File contents through an eFuse mount (both tiers) behave as on the native filesystem. The mount
 * options vary by subclass: {@link FileDataComparisonTest} (defaults), {@link WritebackCacheFileDataTest}.
 */
abstract class FileDataScenarios {
    /** The volumes of the concrete test class. */
    abstract ComparedVolumes volumes();

    private static final ValueLayout.OfInt BIG_ENDIAN_INT =
            ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.BIG_ENDIAN);

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    static String sha256(byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }

    static byte[] pattern(int size, long seed) {
        byte[] b = new byte[size];
        new Random(seed).nextBytes(b);
        return b;
    }

    @OnBothTiers
    void createReadWriteAndAppendLikeNative(Tier tier) throws Exception {
        volumes().compare(tier, (dir, seen) -> {
            Path f = dir.resolve("f");
            Files.write(f, ascii("hello"));
            seen.add("after create", Posix.attrs(f));
            seen.add("read", Files.readString(f));
            Files.write(f, ascii(" world"), APPEND);
            seen.add("after append", Files.readString(f));
            try (FileChannel ch = FileChannel.open(f, WRITE, APPEND)) {
                // O_APPEND writes land at the end wherever the file position is.
                ch.position(0);
                ch.write(ByteBuffer.wrap(ascii("!")));
            }
            seen.add("after append at position 0", Files.readString(f));
            try (FileChannel ch = FileChannel.open(f, WRITE)) {
                ch.write(ByteBuffer.wrap(ascii("W")), 6);
            }
            seen.add("after pwrite", Files.readString(f));
            seen.add("attrs", Posix.attrs(f));
            seen.add("O_TRUNC", Posix.tryOpen(f, O_WRONLY | O_TRUNC, 0) + " " + Posix.attrs(f));

            byte[] big = pattern(3 << 20, 7);
            Files.write(f, big);
            seen.add("3 MiB written", Files.size(f));
            seen.add("3 MiB read back", sha256(Files.readAllBytes(f)).equals(sha256(big)));
            try (FileChannel ch = FileChannel.open(f, READ)) {
                ByteBuffer b = ByteBuffer.allocate(10);
                ch.read(b, (3 << 20) - 4);
                seen.add("short read at the end", b.position());
                b.clear();
                seen.add("read past the end", ch.read(b, 4 << 20));
            }
        });
    }

    @OnBothTiers
    void openErrorsLikeNative(Tier tier) throws Exception {
        volumes().compare(tier, (dir, seen) -> {
            Path f = dir.resolve("f");
            Files.write(f, ascii("x"));
            Path d = Files.createDirectory(dir.resolve("d"));
            seen.add("O_CREAT|O_EXCL on existing", Posix.tryOpen(f, O_CREAT | O_EXCL | O_WRONLY, 0644));
            seen.add("O_CREAT|O_EXCL on new", Posix.tryOpen(dir.resolve("g"), O_CREAT | O_EXCL | O_WRONLY, 0640));
            seen.add("new file", Posix.attrs(dir.resolve("g")));
            seen.add("missing", Posix.tryOpen(dir.resolve("nope"), O_RDONLY, 0));
            seen.add("missing parent", Posix.tryOpen(dir.resolve("nope/f"), O_CREAT | O_WRONLY, 0644));
            seen.add("directory for writing", Posix.tryOpen(d, O_WRONLY, 0));
            seen.add("directory with O_CREAT", Posix.tryOpen(d, O_CREAT | O_WRONLY, 0644));
            seen.add("file as a directory", Posix.tryOpen(f.resolve("x"), O_RDONLY, 0));
            seen.add("O_DIRECTORY on a file", Posix.tryOpen(f, O_RDONLY | O_DIRECTORY, 0));
            seen.add("255-byte name", Posix.tryOpen(dir.resolve("n".repeat(255)), O_CREAT | O_WRONLY, 0600));
            seen.add("256-byte name", Posix.tryOpen(dir.resolve("n".repeat(256)), O_CREAT | O_WRONLY, 0600));
            seen.add("lookup of a 256-byte name", Posix.exists(dir.resolve("m".repeat(256))));
            Posix.symlink("f", dir.resolve("l"));
            seen.add("O_NOFOLLOW on a symlink", Posix.tryOpen(dir.resolve("l"), O_RDONLY | O_NOFOLLOW, 0));
            seen.add("O_CREAT|O_EXCL on a symlink", Posix.tryOpen(dir.resolve("l"), O_CREAT | O_EXCL | O_WRONLY, 0644));
            seen.add("through a symlink", Posix.tryOpen(dir.resolve("l"), O_RDONLY, 0));
            Posix.symlink("dangling-target", dir.resolve("dangling"));
            seen.add("O_CREAT through a dangling symlink", Posix.tryOpen(dir.resolve("dangling"), O_CREAT | O_WRONLY, 0600));
            seen.add("its target", Posix.attrs(dir.resolve("dangling-target")));
            seen.add("O_TMPFILE", Posix.tryOpen(dir, O_TMPFILE | O_RDWR, 0600));
        });
    }

    @OnBothTiers
    void truncateLikeNative(Tier tier) throws Exception {
        volumes().compare(tier, (dir, seen) -> {
            Path f = dir.resolve("f");
            Files.write(f, ascii("0123456789"));
            seen.add("shrink", Posix.truncate(f, 4) + " " + Files.readString(f));
            seen.add("grow", Posix.truncate(f, 8) + " " + HexFormat.of().formatHex(Files.readAllBytes(f)));
            try (FileChannel ch = FileChannel.open(f, WRITE)) {
                ch.truncate(2);
            }
            seen.add("ftruncate", Files.readString(f));
            seen.add("to zero", Posix.truncate(f, 0) + " " + Posix.attrs(f));
            seen.add("negative", Posix.truncate(f, -1));
            seen.add("directory", Posix.truncate(dir, 0));
            seen.add("missing", Posix.truncate(dir.resolve("nope"), 0));
            seen.add("through a file", Posix.truncate(f.resolve("x"), 0));
            Files.write(f, ascii("abc"));
            seen.add("read-only fd", ftruncateReadOnly(f));
        });
    }

    private static String ftruncateReadOnly(Path f) {
        int fd = Posix.open(f, O_RDONLY, 0);
        try {
            return LibC.ftruncate(fd, 0) < 0 ? Errno.name(LibC.errno()) : "ok";
        } finally {
            LibC.close(fd);
        }
    }

    @OnBothTiers
    void unlinkedOpenFileStaysReadableAndWritable(Tier tier) throws Exception {
        volumes().compare(tier, (dir, seen) -> {
            Path f = dir.resolve("f");
            Files.write(f, ascii("before"));
            int fd = Posix.open(f, O_RDWR, 0);
            try {
                seen.add("unlink", Posix.unlink(f));
                seen.add("name after unlink", Posix.exists(f));
                seen.add("write after unlink", Posix.pwrite(fd, ascii("+after"), 6));
                seen.add("read after unlink", new String(Posix.pread(fd, 100, 0), StandardCharsets.US_ASCII));
                Statx st = Syscalls.fstatx(fd);
                seen.add("fstat after unlink", "nlink=" + st.nlink() + " size=" + st.size());
                seen.add("ftruncate after unlink", LibC.ftruncate(fd, 3) == 0 ? "ok" : "failed");
                seen.add("read after ftruncate", new String(Posix.pread(fd, 100, 0), StandardCharsets.US_ASCII));
                seen.add("listing", List.of(dir.toFile().list()));
            } finally {
                LibC.close(fd);
            }
        });
    }

    @OnBothTiers
    void mmapReadsAndWritesReachTheBackingFile(Tier tier) throws Exception {
        int size = 256 << 10;
        byte[] original = pattern(size, 11);
        ComparedVolumes.Workspace w = volumes().compare(tier, (dir, seen) -> {
            Path f = dir.resolve("m");
            Files.write(f, original);
            // An arena-bound mapping is unmapped on close: a MappedByteBuffer would pin the mount until GC.
            try (FileChannel ch = FileChannel.open(f, READ, WRITE); Arena arena = Arena.ofConfined()) {
                MemorySegment map = ch.map(FileChannel.MapMode.READ_WRITE, 0, size, arena);
                seen.add("mapped read", sha256(map.toArray(ValueLayout.JAVA_BYTE)).equals(sha256(original)));
                for (int i = 0; i < size; i += 4096) {
                    map.set(BIG_ENDIAN_INT, i + 100, i);
                }
                map.force();
                seen.add("read(2) after msync", sha256(Files.readAllBytes(f)).equals(sha256(expectedAfterMmap(original))));
            }
            seen.add("attrs", Posix.attrs(f));
        });
        // The data went all the way down, not only into the mount's page cache.
        assertArrayEquals(expectedAfterMmap(original), Files.readAllBytes(w.backingDir().resolve("m")));
    }

    private static byte[] expectedAfterMmap(byte[] original) {
        ByteBuffer b = ByteBuffer.wrap(original.clone()).order(java.nio.ByteOrder.BIG_ENDIAN);
        for (int i = 0; i < original.length; i += 4096) {
            b.putInt(i + 100, i);
        }
        return b.array();
    }

    @OnBothTiers
    void sparseFileBeyondFourGibibytes(Tier tier) throws Exception {
        long at = 5L << 30;
        ComparedVolumes.Workspace w = volumes().compare(tier, (dir, seen) -> {
            Path f = dir.resolve("sparse");
            try (FileChannel ch = FileChannel.open(f, CREATE_NEW, READ, WRITE)) {
                ch.write(ByteBuffer.wrap(ascii("tail")), at);
                seen.add("size", ch.size());
                ByteBuffer b = ByteBuffer.allocate(4);
                ch.read(b, at);
                seen.add("read at 5 GiB", new String(b.array(), StandardCharsets.US_ASCII));
                b.clear();
                ch.read(b, (4L << 30) + 12345);
                seen.add("hole reads zeros", HexFormat.of().formatHex(b.array()));
                ch.write(ByteBuffer.wrap(ascii("mid")), (4L << 30) + 1);
            }
            seen.add("attrs", Posix.attrs(f));
            seen.add("truncate to 4 GiB + 2", Posix.truncate(f, (4L << 30) + 2) + " " + Files.size(f));
            try (FileChannel ch = FileChannel.open(f, READ)) {
                ByteBuffer b = ByteBuffer.allocate(8);
                seen.add("read at the new end", ch.read(b, (4L << 30)) + " " + HexFormat.of().formatHex(b.array(), 0, 2));
            }
        });
        assertEquals((4L << 30) + 2, Files.size(w.backingDir().resolve("sparse")));
    }

    @OnBothTiers
    void concurrentWritersOfDisjointRegions(Tier tier) throws Exception {
        int writers = 4;
        int region = 1 << 20;
        int chunk = 16 << 10;
        byte[][] data = new byte[writers][];
        for (int i = 0; i < writers; i++) {
            data[i] = pattern(region, 100 + i);
        }
        byte[] expected = new byte[writers * region];
        for (int i = 0; i < writers; i++) {
            System.arraycopy(data[i], 0, expected, i * region, region);
        }
        ComparedVolumes.Workspace w = volumes().compare(tier, (dir, seen) -> {
            Path f = dir.resolve("shared");
            Files.write(f, new byte[0]);
            ExecutorService pool = Executors.newFixedThreadPool(writers);
            try {
                List<Future<?>> done = new ArrayList<>();
                for (int i = 0; i < writers; i++) {
                    int id = i;
                    done.add(pool.submit(() -> {
                        // Each writer has its own open file and interleaves its chunks with the others'.
                        try (FileChannel ch = FileChannel.open(f, WRITE)) {
                            for (int off = 0; off < region; off += chunk) {
                                ch.write(ByteBuffer.wrap(data[id], off, chunk), (long) id * region + off);
                            }
                        }
                        return null;
                    }));
                }
                for (Future<?> d : done) {
                    d.get(60, TimeUnit.SECONDS);
                }
            } finally {
                pool.shutdownNow();
            }
            seen.add("size", Files.size(f));
            seen.add("content", sha256(Files.readAllBytes(f)).equals(sha256(expected)));
        });
        assertArrayEquals(expected, Files.readAllBytes(w.backingDir().resolve("shared")));
    }

    @OnBothTiers
    void fallocateHolesAndCopyFileRangeLikeNative(Tier tier) throws Exception {
        volumes().compare(tier, (dir, seen) -> {
            Path f = dir.resolve("f");
            int fd = Posix.open(f, O_CREAT | O_RDWR, 0644);
            try {
                seen.add("fallocate 1 MiB", LibC.fallocate(fd, 0, 0, 1 << 20) == 0 ? "ok" : Errno.name(LibC.errno()));
                seen.add("size after fallocate", Syscalls.fstatx(fd).size());
                seen.add("keep-size fallocate", LibC.fallocate(fd, 1, 1 << 20, 1 << 20) == 0 ? "ok"
                        : Errno.name(LibC.errno()));
                seen.add("size after keep-size", Syscalls.fstatx(fd).size());
                Posix.pwrite(fd, pattern(4096, 3), 8 << 20);
                seen.add("punch hole", LibC.fallocate(fd, 3, 0, 1 << 20) == 0 ? "ok" : Errno.name(LibC.errno()));
                seen.add("SEEK_DATA from 0", LibC.lseek(fd, 0, SEEK_DATA));
                seen.add("SEEK_HOLE from 8 MiB", LibC.lseek(fd, 8 << 20, SEEK_HOLE));
                seen.add("SEEK_DATA past the end", LibC.lseek(fd, 9 << 20, SEEK_DATA) < 0 ? Errno.name(LibC.errno()) : "found");
                seen.add("bad fallocate mode", LibC.fallocate(fd, 0x7f00, 0, 1) == 0 ? "ok" : Errno.name(LibC.errno()));
            } finally {
                LibC.close(fd);
            }
            byte[] data = pattern(3 << 20, 5);
            Path src = dir.resolve("src");
            Files.write(src, data);
            Path dst = dir.resolve("dst");
            try (FileChannel in = FileChannel.open(src, READ); FileChannel out = FileChannel.open(dst, CREATE_NEW, WRITE)) {
                long copied = 0;
                while (copied < data.length) {
                    copied += in.transferTo(copied, data.length - copied, out);
                }
                seen.add("copied", copied);
            }
            seen.add("copy equals source", sha256(Files.readAllBytes(dst)).equals(sha256(data)));
        });
    }

    @OnBothTiers
    void tmpfileLinkedIntoTheTreeAndFsync(Tier tier) throws Exception {
        volumes().compare(tier, (dir, seen) -> {
            int fd = Posix.open(dir, O_TMPFILE | O_RDWR, 0640);
            seen.add("O_TMPFILE", fd >= 0 ? "ok" : Errno.name(-fd));
            try {
                seen.add("write", Posix.pwrite(fd, ascii("anonymous"), 0));
                seen.add("fsync", LibC.fsync(fd) == 0 ? "ok" : Errno.name(LibC.errno()));
                seen.add("fdatasync", LibC.fdatasync(fd) == 0 ? "ok" : Errno.name(LibC.errno()));
                Statx st = Syscalls.fstatx(fd);
                seen.add("unnamed", "nlink=" + st.nlink() + " size=" + st.size() + " mode=" + Integer.toOctalString(st.mode()));
                ByteBuffer proc = io.efuse.csi.sys.NativeMemory.cString("/proc/self/fd/" + fd);
                ByteBuffer name = io.efuse.csi.sys.NativeMemory.cString(dir.resolve("named").toString());
                int r = LibC.linkat(AT_FDCWD, io.efuse.csi.sys.NativeMemory.address(proc), AT_FDCWD,
                        io.efuse.csi.sys.NativeMemory.address(name), AT_SYMLINK_FOLLOW);
                seen.add("linkat", r == 0 ? "ok" : Errno.name(LibC.errno()));
                seen.add("named", Posix.attrs(dir.resolve("named")) + " " + Files.readString(dir.resolve("named")));
            } finally {
                LibC.close(fd);
            }
            int dfd = Posix.open(dir, O_RDONLY | O_DIRECTORY, 0);
            try {
                seen.add("fsync of a directory", LibC.fsync(dfd) == 0 ? "ok" : Errno.name(LibC.errno()));
            } finally {
                LibC.close(dfd);
            }
            try (FileChannel ch = FileChannel.open(dir.resolve("named"), WRITE, APPEND)) {
                ch.write(ByteBuffer.wrap(ascii(" and named")));
                ch.force(false);
                ch.force(true);
            }
            seen.add("after append and force", Files.readString(dir.resolve("named")));
        });
    }

    /** A direct buffer of size bytes at a 4096-byte aligned address, as O_DIRECT wants. */
    private static ByteBuffer aligned(int size) {
        return ByteBuffer.allocateDirect(size + 4096).alignedSlice(4096).limit(size).order(java.nio.ByteOrder.nativeOrder());
    }

    @OnBothTiers
    void directIoLikeNative(Tier tier) throws Exception {
        volumes().compare(tier, (dir, seen) -> {
            Path f = dir.resolve("direct");
            byte[] data = pattern(1 << 20, 21);
            Files.write(f, data);
            int fd = Posix.open(f, O_RDWR | O_DIRECT, 0);
            seen.add("open O_DIRECT", fd >= 0 ? "ok" : Errno.name(-fd));
            if (fd < 0) {
                return;
            }
            try {
                ByteBuffer b = aligned(64 << 10);
                long addr = io.efuse.csi.sys.NativeMemory.address(b);
                long n = LibC.pread(fd, addr, 64 << 10, 4096);
                seen.add("aligned read", n < 0 ? Errno.name(LibC.errno()) : String.valueOf(n));
                byte[] got = new byte[64 << 10];
                b.get(0, got);
                seen.add("read data", java.util.Arrays.equals(got, java.util.Arrays.copyOfRange(data, 4096, 4096 + (64 << 10))));
                b.put(0, pattern(64 << 10, 22));
                n = LibC.pwrite(fd, addr, 64 << 10, 8192);
                seen.add("aligned write", n < 0 ? Errno.name(LibC.errno()) : String.valueOf(n));
                n = LibC.pread(fd, addr, 4096, (1 << 20) - 4096);
                seen.add("aligned read of the last block", n < 0 ? Errno.name(LibC.errno()) : String.valueOf(n));
            } finally {
                LibC.close(fd);
            }
            byte[] expected = data.clone();
            System.arraycopy(pattern(64 << 10, 22), 0, expected, 8192, 64 << 10);
            seen.add("content", java.util.Arrays.equals(expected, Files.readAllBytes(f)));
        });
    }
}
