package io.efuse.csi.fs;

import static io.efuse.csi.sys.LinuxConstants.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.efuse.csi.sys.Errno;
import io.efuse.csi.sys.LibC;
import io.efuse.csi.sys.NativeMemory;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A directory of 20,000 entries lists every name exactly once through an eFuse mount, before and
 * after churn, as it does natively (READDIR and READDIRPLUS span many requests and resume by offset).
 */
class LargeDirectoryTest {
    @RegisterExtension
    static final ComparedVolumes volumes = new ComparedVolumes();

    private static final int ENTRIES = 20_000;

    private static String name(int i) {
        // Names of different lengths, so that records do not all have one size.
        return "entry-" + i + "-" + "x".repeat(i % 37);
    }

    /** Creates (or, with unlink, removes) entries [from, to) with openat/close on one directory fd. */
    private static void forEach(Path dir, int from, int to, boolean unlink) throws IOException {
        int dfd = Posix.open(dir, O_RDONLY | O_DIRECTORY, 0);
        if (dfd < 0) {
            throw new IOException("open " + dir + ": " + Errno.name(-dfd));
        }
        ByteBuffer name = NativeMemory.allocate(256);
        long addr = NativeMemory.address(name);
        try {
            for (int i = from; i < to; i++) {
                byte[] b = name(i).getBytes(StandardCharsets.US_ASCII);
                name.put(0, b).put(b.length, (byte) 0);
                if (unlink) {
                    if (LibC.unlinkat(dfd, addr, 0) < 0) {
                        throw new IOException("unlink " + dir.resolve(name(i)) + ": " + Errno.name(LibC.errno()));
                    }
                } else {
                    int fd = LibC.openat(dfd, addr, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
                    if (fd < 0) {
                        throw new IOException("create " + dir.resolve(name(i)) + ": " + Errno.name(LibC.errno()));
                    }
                    LibC.close(fd);
                }
            }
        } finally {
            LibC.close(dfd);
        }
    }

    private static List<String> list(Path dir) throws IOException {
        List<String> names = new ArrayList<>();
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir)) {
            for (Path p : s) {
                names.add(p.getFileName().toString());
            }
        }
        return names;
    }

    private static String exactlyOnce(List<String> names, int expected) {
        Set<String> unique = new HashSet<>(names);
        return names.size() + " names, " + unique.size() + " distinct, expected " + expected;
    }

    /**
     * The entries are created behind the mount, in the backing directory (as a volume that already
     * holds data): the daemon keeps one descriptor per node the kernel has looked up, and 20,000
     * creates through the mount would need more descriptors than this process's hard limit (20,000
     * here, and it cannot be raised without CAP_SYS_RESOURCE). Listing needs no per-entry node, and
     * the churn that follows goes through the mount.
     */
    @OnBothTiers
    void twentyThousandEntriesAreListedExactlyOnce(Tier tier) throws Exception {
        ComparedVolumes.Workspace w = volumes.workspace(tier);
        forEach(w.nativeDir(), 0, ENTRIES, false);
        forEach(w.backingDir(), 0, ENTRIES, false);
        volumes.compare(tier, w, (dir, seen) -> {
            List<String> first = list(dir);
            seen.add("first listing", exactlyOnce(first, ENTRIES));
            seen.add("same names", new HashSet<>(first).equals(expectedNames(0, ENTRIES)));
            // Churn through the mount: drop a quarter, add new ones; the next listing must show both.
            forEach(dir, 0, ENTRIES / 4, true);
            forEach(dir, ENTRIES, ENTRIES + 2000, false);
            List<String> second = list(dir);
            seen.add("listing after churn", exactlyOnce(second, ENTRIES - ENTRIES / 4 + 2000));
            seen.add("same names after churn", new HashSet<>(second).equals(expectedNames(ENTRIES / 4, ENTRIES + 2000)));
            seen.add("stat of one entry", Posix.attrs(dir.resolve(name(ENTRIES - 1))));
        });
        String[] behind = w.backingDir().toFile().list();
        assertEquals(ENTRIES - ENTRIES / 4 + 2000, behind.length);
        assertTrue(w.mount().alive());
    }

    private static Set<String> expectedNames(int from, int to) {
        Set<String> s = new HashSet<>();
        for (int i = from; i < to; i++) {
            s.add(name(i));
        }
        return s;
    }
}
