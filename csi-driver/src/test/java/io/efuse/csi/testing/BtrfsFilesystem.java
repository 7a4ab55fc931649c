package io.efuse.csi.testing;

import io.efuse.csi.sys.ErrnoException;
import io.efuse.csi.sys.LinuxConstants;
import io.efuse.csi.sys.Syscalls;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Assumptions;

/**
 * A small btrfs made for a test: a sparse image file formatted with {@code mkfs.btrfs}, attached to a loop device
 * and mounted. Closing it unmounts, detaches the loop device and deletes the image; a failure half-way through
 * {@link #create} undoes what was done.
 */
public final class BtrfsFilesystem implements AutoCloseable {
    private final Path image;
    private final Path mountPoint;
    private final String loopDevice;

    private BtrfsFilesystem(Path image, Path mountPoint, String loopDevice) {
        this.image = image;
        this.mountPoint = mountPoint;
        this.loopDevice = loopDevice;
    }

    public static void assumeAvailable() {
        Capabilities.assumeRoot(); // loop devices and mounts
        Assumptions.assumeTrue(executable("mkfs.btrfs"), "skipped: mkfs.btrfs (btrfs-progs) is missing");
        Assumptions.assumeTrue(executable("losetup"), "skipped: losetup (util-linux) is missing");
        Assumptions.assumeTrue(kernelKnowsBtrfs(),
                "skipped: the running kernel has no btrfs (not in /proc/filesystems, and modprobe btrfs failed)");
    }

    public static BtrfsFilesystem create(Path dir, String name, long bytes) throws IOException {
        assumeAvailable();
        Path image = dir.resolve(name + ".img");
        Path mnt = Files.createDirectories(dir.resolve(name));
        try (var f = new java.io.RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(bytes);
        }
        String loop = null;
        try {
            run("mkfs.btrfs", "-q", "-f", image.toString());
            loop = run("losetup", "--find", "--show", image.toString()).trim();
            Syscalls.mount(loop, mnt, "btrfs", 0, null);
            return new BtrfsFilesystem(image, mnt, loop);
        } catch (IOException | RuntimeException e) {
            if (loop != null) {
                try {
                    run("losetup", "-d", loop);
                } catch (IOException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            Files.deleteIfExists(image);
            throw e;
        }
    }

    public Path root() {
        return mountPoint;
    }

    @Override
    public void close() throws IOException {
        IOException failure = null;
        try {
            Syscalls.umount(mountPoint, 0);
        } catch (ErrnoException e) {
            // a file a failed test left open keeps the mount busy; detached, the loop device goes once it is closed
            failure = e;
            try {
                Syscalls.umount(mountPoint, LinuxConstants.MNT_DETACH);
            } catch (ErrnoException again) {
                e.addSuppressed(again);
            }
        }
        try {
            run("losetup", "-d", loopDevice);
        } catch (IOException e) {
            if (failure == null) {
                failure = e;
            } else {
                failure.addSuppressed(e);
            }
        }
        Files.deleteIfExists(image);
        if (failure != null) {
            throw failure;
        }
    }

    private static boolean executable(String tool) {
        return Files.isExecutable(Path.of("/usr/sbin", tool)) || Files.isExecutable(Path.of("/sbin", tool))
                || Files.isExecutable(Path.of("/usr/bin", tool));
    }

    private static boolean kernelKnowsBtrfs() {
        try {
            if (Files.readString(Path.of("/proc/filesystems")).contains("\tbtrfs")) {
                return true;
            }
            run("modprobe", "btrfs");
            return Files.readString(Path.of("/proc/filesystems")).contains("\tbtrfs");
        } catch (IOException e) {
            return false;
        }
    }

    public static String run(String... cmd) throws IOException {
        try {
            return ProcessRunner.run(Duration.ofSeconds(60), cmd).expectSuccess();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(String.join(" ", cmd) + ": interrupted", e);
        }
    }
}
