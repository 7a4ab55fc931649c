package io.efuse.csi.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.efuse.csi.sys.LoopDevices.LoopDevice;
import io.efuse.csi.testing.BoundedWait;
import io.efuse.csi.testing.ProcessRunner;
import io.efuse.csi.testing.RequiresRoot;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@RequiresRoot
class LoopDevicesTest {
    @TempDir(factory = DiskTempDirFactory.class)
    Path tmp;

    private final LoopDevices loops = new LoopDevices();
    private final List<LoopDevice> attached = new ArrayList<>();

    @BeforeEach
    void needsLoopDevices() {
        assumeLoopDevices();
    }

    static void assumeLoopDevices() {
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.exists(Path.of("/dev/loop-control")),
                "skipped: no /dev/loop-control (the loop driver is not loaded, or /dev is not the host's)");
    }

    @AfterEach
    void detachLeftovers() throws IOException {
        Path root = tmp.toRealPath();
        for (LoopDevice d : attached) {
            if (loops.backingFile(d.number()).filter(b -> b.startsWith(root)).isPresent()) {
                loops.detach(d);
            }
        }
    }

    @Test
    void attachesWithDirectIoAndDetaches() throws IOException {
        Path img = sparseFile("a.img", 64L << 20);
        LoopDevice d = track(loops.attach(img, false, true));
        assertTrue(d.directIo(), "a file on " + Files.getFileStore(tmp).type() + " takes direct I/O: " + d);
        assertEquals(img.toRealPath(), d.backingFile());
        assertEquals(Path.of("/dev/loop" + d.number()), d.device());
        assertEquals("1", sys(d, "loop/dio"));
        assertEquals("0", sys(d, "ro"));
        assertEquals(Long.toString((64L << 20) / 512), sys(d, "size"));
        assertEquals(List.of(d), loops.backing(img), "backing() finds the device by its file");

        loops.detach(d);
        assertTrue(loops.backingFile(d.number()).isEmpty());
        assertEquals(List.of(), loops.backing(img));
        loops.detach(d); // a second detach finds nothing to do
    }

    @Test
    void readOnlyAndBufferedWhenAskedSo() throws IOException {
        Path img = sparseFile("ro.img", 16L << 20);
        LoopDevice d = track(loops.attach(img, true, false));
        assertFalse(d.directIo());
        assertEquals("1", sys(d, "ro"));
        assertEquals("0", sys(d, "loop/dio"));
        loops.detach(d);
    }

    @Test
    void setCapacityShowsTheGrownFile() throws IOException {
        Path img = sparseFile("grow.img", 16L << 20);
        LoopDevice d = track(loops.attach(img, false, true, 4096));
        assertEquals("4096", sys(d, "queue/logical_block_size"));
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
            f.setLength(48L << 20);
        }
        assertEquals(Long.toString((16L << 20) / 512), sys(d, "size"), "the device keeps its size until told");
        loops.setCapacity(d);
        assertEquals(Long.toString((48L << 20) / 512), sys(d, "size"));
        loops.detach(d);
    }

    @Test
    void anAutoclearDeviceGoesWithItsLastUser() throws Exception {
        Path img = sparseFile("auto.img", 32L << 20);
        LoopDevice unused;
        try (LoopDevices.Claim claim = loops.attachAutoclear(img, false, true, 4096)) {
            unused = track(claim.device());
            assertTrue(loops.autoclear(unused.number()));
            assertEquals(List.of(unused), loops.backing(img));
        }
        Path real = img.toRealPath();
        assertTrue(loops.backingFile(unused.number()).filter(b -> b.equals(real)).isEmpty(),
                "closing the claim of an unmounted device detached it");

        run("mkfs.ext4", "-q", "-F", "-b", "4096", img.toString());
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        LoopDevice d;
        try (LoopDevices.Claim claim = loops.attachAutoclear(img, false, true, 4096)) {
            d = track(claim.device());
            Syscalls.mount(d.device().toString(), mnt, "ext4", 0, null);
        }
        try {
            assertEquals(List.of(d), loops.backing(img), "the mount holds the device after the claim is closed");
            Files.writeString(mnt.resolve("f"), "data");
        } finally {
            Syscalls.umount(mnt, 0);
        }
        awaitDetached(img);
    }

    @Test
    void concurrentAttachesEachGetTheirOwnDevice() throws Exception {
        int n = 4;
        List<Path> imgs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            imgs.add(sparseFile("c" + i + ".img", 8L << 20));
        }
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try {
            List<Future<LoopDevice>> fs = new ArrayList<>();
            for (Path img : imgs) {
                fs.add(pool.submit(() -> loops.attach(img, false, true)));
            }
            Set<Integer> numbers = new HashSet<>();
            for (int i = 0; i < n; i++) {
                LoopDevice d = track(fs.get(i).get(30, TimeUnit.SECONDS));
                assertEquals(imgs.get(i).toRealPath(), d.backingFile());
                numbers.add(d.number());
            }
            assertEquals(n, numbers.size(), "racing LOOP_CTL_GET_FREE callers got distinct devices: " + numbers);
        } finally {
            pool.shutdown();
        }
        for (LoopDevice d : attached) {
            loops.detach(d);
        }
    }

    @Test
    void aMissingFileIsReported() {
        ErrnoException e = org.junit.jupiter.api.Assertions.assertThrows(ErrnoException.class,
                () -> loops.attach(tmp.resolve("missing.img"), false, true));
        assertEquals(Errno.ENOENT, e.errno());
        assertNotEquals(null, e.getMessage());
    }

    private LoopDevice track(LoopDevice d) {
        attached.add(d);
        return d;
    }

    /** Waits for the kernel to free img's loop device, which it does once the last user has gone. */
    private void awaitDetached(Path img) throws Exception {
        BoundedWait.upTo(Duration.ofSeconds(5)).every(Duration.ofMillis(50)).until("the loop device of " + img
                + " to be freed", () -> loops.backing(img).isEmpty());
    }

    private Path sparseFile(String name, long size) throws IOException {
        Path p = tmp.resolve(name);
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(size);
        }
        return p;
    }

    private static String sys(LoopDevice d, String attr) throws IOException {
        return Files.readString(Path.of("/sys/block/loop" + d.number()).resolve(attr)).strip();
    }

    private static void run(String... cmd) throws Exception {
        ProcessRunner.run(Duration.ofSeconds(60), cmd).expectSuccess();
    }
}
