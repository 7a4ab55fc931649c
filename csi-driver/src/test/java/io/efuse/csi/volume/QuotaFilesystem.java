package io.efuse.csi.volume;

import io.efuse.csi.sys.LinuxConstants;
import io.efuse.csi.sys.MountTable;
import io.efuse.csi.sys.Syscalls;
import io.efuse.csi.testing.Capabilities;
import io.efuse.csi.testing.ProcessRunner;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Assumptions;

/**
 * A small ext4 filesystem with enforced project quotas, made for a test: a sparse image file formatted with
 * {@code mkfs.ext4 -O quota,project}, attached to a loop device and mounted with prjquota. Closing it unmounts,
 * detaches the loop device and deletes the image.
 */
public final class QuotaFilesystem implements AutoCloseable {
    private final Path image;
    private final Path mountPoint;
    private final String loopDevice;

    private QuotaFilesystem(Path image, Path mountPoint, String loopDevice) {
        this.image = image;
        this.mountPoint = mountPoint;
        this.loopDevice = loopDevice;
    }

    public static void assumeAvailable() {
        Capabilities.assumeRoot(); // loop devices and mounts
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/sbin/mkfs.ext4"))
                || Files.isExecutable(Path.of("/sbin/mkfs.ext4")), "skipped: mkfs.ext4 (e2fsprogs) is missing");
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/sbin/losetup"))
                || Files.isExecutable(Path.of("/sbin/losetup")), "skipped: losetup (util-linux) is missing");
    }

    public static QuotaFilesystem create(Path dir, long bytes) throws IOException {
        assumeAvailable();
        Path image = dir.resolve("quota-ext4.img");
        Path mnt = Files.createDirectories(dir.resolve("quota-fs"));
        try (var f = new java.io.RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(bytes);
        }
        run("mkfs.ext4", "-q", "-F", "-O", "quota,project", "-b", "4096", image.toString());
        String loop = run("losetup", "--find", "--show", image.toString()).trim();
        try {
            Syscalls.mount(loop, mnt, "ext4", 0, "prjquota");
        } catch (IOException e) {
            run("losetup", "-d", loop);
            Files.deleteIfExists(image);
            // ext4 refuses an image with the quota feature outright when the kernel lacks CONFIG_QUOTA
            Assumptions.assumeTrue(kernelHasQuota(), "skipped: the running kernel was built without ext4 quota support"
                    + " (CONFIG_QUOTA and CONFIG_QFMT_V2, see /proc/config.gz), so ext4 cannot enforce project quotas");
            throw e;
        }
        return new QuotaFilesystem(image, mnt, loop);
    }

    /** Whether the running kernel can mount ext4 with quotas (CONFIG_QUOTA, CONFIG_QFMT_V2), as its config says. */
    public static boolean kernelHasQuota() {
        Path config = Path.of("/proc/config.gz");
        if (!Files.exists(config)) {
            return true; // unknown: let the mount attempt decide
        }
        try (var in = new java.util.zip.GZIPInputStream(Files.newInputStream(config))) {
            String text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            return text.contains("\nCONFIG_QUOTA=y") && text.contains("\nCONFIG_QFMT_V2=y");
        } catch (IOException e) {
            return true;
        }
    }

    public Path root() {
        return mountPoint;
    }

    private static String run(String... cmd) throws IOException {
        try {
            return ProcessRunner.run(Duration.ofSeconds(60), cmd).expectSuccess();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(String.join(" ", cmd) + ": interrupted", e);
        }
    }

    @Override
    public void close() throws IOException {
        // mounts stacked inside (staging, targets) go first
        List<MountTable.Entry> entries = MountTable.read();
        for (int i = entries.size() - 1; i >= 0; i--) {
            Path p = Path.of(entries.get(i).mountPoint());
            if (p.startsWith(mountPoint)) {
                Syscalls.umount(p, LinuxConstants.MNT_DETACH);
            }
        }
        run("losetup", "-d", loopDevice);
        Files.deleteIfExists(image);
    }
}
