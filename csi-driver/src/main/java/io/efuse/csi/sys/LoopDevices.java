package io.efuse.csi.sys;

import static io.efuse.csi.sys.LinuxConstants.*;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * Loop devices through their ioctls (include/uapi/linux/loop.h): a free device from /dev/loop-control, set up in
 * one LOOP_CONFIGURE. What the kernel did (the backing file, whether it does direct I/O) is read back from
 * /sys/block/loopN/loop, which needs no open of the device: opening and closing an autoclear device that nothing
 * else holds would tear it down.
 */
public final class LoopDevices {
    private static final long LOOP_CLR_FD = 0x4C01;
    private static final long LOOP_SET_CAPACITY = 0x4C07;
    private static final long LOOP_CONFIGURE = 0x4C0A;
    private static final long LOOP_CTL_GET_FREE = 0x4C82;

    static final int LO_FLAGS_READ_ONLY = 1;
    static final int LO_FLAGS_AUTOCLEAR = 4;
    static final int LO_FLAGS_DIRECT_IO = 16;

    // struct loop_config { u32 fd; u32 block_size; struct loop_info64 info; u64 reserved[8]; }, loop_info64 at 8
    private static final int CONFIG_SIZE = 304;
    private static final int CONFIG_FD = 0;
    private static final int CONFIG_BLOCK_SIZE = 4;
    private static final int INFO = 8;
    private static final int INFO_FLAGS = INFO + 52;
    private static final int INFO_FILE_NAME = INFO + 56;
    private static final int LO_NAME_SIZE = 64;

    /** Another process may configure the device LOOP_CTL_GET_FREE named before we do; then we ask again. */
    private static final int ATTEMPTS = 32;

    private static final Path SYS_BLOCK = Path.of("/sys/block");
    private static final Path DEV = Path.of("/dev");

    /**
     * A configured loop device: its number, its node, the file behind it (as the kernel names it) and whether the
     * kernel reads and writes that file with direct I/O (false when it refused and the device is buffered).
     */
    public record LoopDevice(int number, Path device, Path backingFile, boolean directIo) {}

    /**
     * An autoclear device held open by this process. The kernel tears the device down when its last opener goes:
     * closing the claim once the device is mounted leaves it to the mount, and its umount frees the device;
     * closing it without a mount (a failed mount, say) frees it at once. A crashed process leaves nothing behind.
     */
    public static final class Claim implements AutoCloseable {
        private final LoopDevice device;
        private int fd;

        private Claim(LoopDevice device, int fd) {
            this.device = device;
            this.fd = fd;
        }

        public LoopDevice device() {
            return device;
        }

        @Override
        public void close() {
            Syscalls.close(fd);
            fd = -1;
        }
    }

    /** A device that stays until {@link #detach}, with the kernel's default block size. */
    public LoopDevice attach(Path file, boolean readOnly, boolean directIo) throws ErrnoException {
        return attach(file, readOnly, directIo, 0);
    }

    /**
     * A device that stays until {@link #detach}. {@code blockSize} is the device's logical block size (512 to
     * the page size, a power of two), or 0 for the kernel's choice.
     */
    public LoopDevice attach(Path file, boolean readOnly, boolean directIo, int blockSize) throws ErrnoException {
        Configured c = configure(file, readOnly, directIo, false, blockSize);
        Syscalls.close(c.deviceFd);
        return c.device;
    }

    /** An autoclear device (see {@link Claim}); the caller mounts it, then closes the claim. */
    public Claim attachAutoclear(Path file, boolean readOnly, boolean directIo, int blockSize) throws ErrnoException {
        Configured c = configure(file, readOnly, directIo, true, blockSize);
        return new Claim(c.device, c.deviceFd);
    }

    private record Configured(LoopDevice device, int deviceFd) {}

    private Configured configure(Path file, boolean readOnly, boolean directIo, boolean autoclear, int blockSize)
            throws ErrnoException {
        int backing = Syscalls.open(file, (readOnly ? O_RDONLY : O_RDWR) | O_NOFOLLOW, 0);
        try {
            int control = Syscalls.open(DEV.resolve("loop-control"), O_RDWR, 0);
            try {
                for (int attempt = 0; ; attempt++) {
                    int number = (int) Syscalls.ioctl(control, LOOP_CTL_GET_FREE, 0, "LOOP_CTL_GET_FREE");
                    Path node = deviceNode(number);
                    int dev;
                    try {
                        dev = Syscalls.open(node, O_RDWR, 0);
                    } catch (ErrnoException e) {
                        // ENXIO/ENOENT: removed (LOOP_CTL_REMOVE) between the two calls
                        if ((e.errno() == Errno.ENXIO || e.errno() == Errno.ENOENT) && attempt < ATTEMPTS) {
                            continue;
                        }
                        throw e;
                    }
                    int errno = loopConfigure(dev, backing, file, readOnly, directIo, autoclear, blockSize);
                    if (errno == Errno.EINVAL && directIo) {
                        // newer kernels refuse direct I/O they cannot do (the file's filesystem lacks it, or its
                        // logical block size exceeds the device's) instead of quietly buffering: buffer then
                        errno = loopConfigure(dev, backing, file, readOnly, false, autoclear, blockSize);
                    }
                    if (errno == 0) {
                        Path name = backingFile(number).orElse(file);
                        return new Configured(new LoopDevice(number, node, name, directIoOf(number)), dev);
                    }
                    Syscalls.close(dev);
                    if (errno == Errno.EBUSY && attempt < ATTEMPTS) {
                        continue;
                    }
                    throw new ErrnoException("ioctl LOOP_CONFIGURE " + node + " with", file.toString(), errno);
                }
            } finally {
                Syscalls.close(control);
            }
        } finally {
            Syscalls.close(backing); // the device holds its own reference to the file
        }
    }

    /** Returns 0 or the errno. */
    private static int loopConfigure(int dev, int backing, Path file, boolean readOnly, boolean directIo,
                                     boolean autoclear, int blockSize) {
        ByteBuffer config = NativeMemory.allocate(CONFIG_SIZE);
        config.putInt(CONFIG_FD, backing);
        config.putInt(CONFIG_BLOCK_SIZE, blockSize);
        int flags = (readOnly ? LO_FLAGS_READ_ONLY : 0) | (autoclear ? LO_FLAGS_AUTOCLEAR : 0)
                | (directIo ? LO_FLAGS_DIRECT_IO : 0);
        config.putInt(INFO_FLAGS, flags);
        // shown by LOOP_GET_STATUS (losetup's NAME column when sysfs is not there); truncated like losetup does
        byte[] name = file.toString().getBytes(StandardCharsets.UTF_8);
        config.put(INFO_FILE_NAME, name, 0, Math.min(name.length, LO_NAME_SIZE - 1));
        return LibC.ioctl(dev, LOOP_CONFIGURE, NativeMemory.address(config)) < 0 ? LibC.errno() : 0;
    }

    /** Tells the device that its file grew (or shrank), so the filesystem on it can grow into the new size. */
    public void setCapacity(LoopDevice device) throws ErrnoException {
        int fd = Syscalls.open(device.device(), O_RDONLY, 0);
        try {
            Syscalls.ioctl(fd, LOOP_SET_CAPACITY, 0, "LOOP_SET_CAPACITY " + device.device());
        } finally {
            Syscalls.close(fd);
        }
    }

    /**
     * Detaches the file. A device that is still open elsewhere (mounted) is not detached now: the kernel marks it
     * autoclear and detaches it when the last user closes it.
     */
    public void detach(LoopDevice device) throws ErrnoException {
        int fd;
        try {
            fd = Syscalls.open(device.device(), O_RDONLY, 0);
        } catch (ErrnoException e) {
            if (e.errno() == Errno.ENXIO || e.errno() == Errno.ENOENT) {
                return; // the device itself is gone
            }
            throw e;
        }
        try {
            if (LibC.ioctl(fd, LOOP_CLR_FD, 0) < 0) {
                int errno = LibC.errno();
                if (errno != Errno.ENXIO) { // ENXIO: no file attached any more
                    throw new ErrnoException("ioctl LOOP_CLR_FD", device.device().toString(), errno);
                }
            }
        } finally {
            Syscalls.close(fd);
        }
    }

    /** The file behind loop device {@code number}, or empty when it has none (or there is no such device). */
    public Optional<Path> backingFile(int number) {
        String s = readSys(SYS_BLOCK.resolve("loop" + number).resolve("loop/backing_file"));
        return s == null || s.isEmpty() ? Optional.empty() : Optional.of(Path.of(s));
    }

    /** The configured loop devices whose backing file is {@code file}, by number; found again after a restart. */
    public List<LoopDevice> backing(Path file) throws IOException {
        Path real = file.toRealPath();
        List<LoopDevice> out = new ArrayList<>();
        for (int n : numbers()) {
            Optional<Path> b = backingFile(n);
            if (b.isPresent() && sameFile(b.get(), real)) {
                out.add(new LoopDevice(n, deviceNode(n), b.get(), directIoOf(n)));
            }
        }
        return out;
    }

    /** The loop device with this device number (as mountinfo shows it), if it is one. */
    public OptionalInt numberOf(int major, int minor) throws IOException {
        String want = major + ":" + minor;
        for (int n : numbers()) {
            if (want.equals(readSys(SYS_BLOCK.resolve("loop" + n).resolve("dev")))) {
                return OptionalInt.of(n);
            }
        }
        return OptionalInt.empty();
    }

    /** "major:minor" of loop device {@code number}, as mountinfo shows it, or empty when there is no such device. */
    public Optional<String> deviceNumber(int number) {
        return Optional.ofNullable(readSys(SYS_BLOCK.resolve("loop" + number).resolve("dev")));
    }

    /** The device behind loop device {@code number}, or empty when nothing is attached to it. */
    public Optional<LoopDevice> device(int number) {
        return backingFile(number).map(b -> new LoopDevice(number, DEV.resolve("loop" + number), b,
                directIoOf(number)));
    }

    /** Whether the kernel clears this device at its last close. */
    public boolean autoclear(int number) {
        return "1".equals(readSys(SYS_BLOCK.resolve("loop" + number).resolve("loop/autoclear")));
    }

    private static boolean sameFile(Path backing, Path real) {
        if (backing.equals(real)) {
            return true;
        }
        // the kernel names the path the file was opened by; a symlink or bind mount may name it differently
        try {
            return Files.isSameFile(backing, real);
        } catch (IOException e) {
            return false; // renamed or deleted since (the kernel then appends " (deleted)")
        }
    }

    private static List<Integer> numbers() throws IOException {
        List<Integer> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(SYS_BLOCK, "loop*")) {
            for (Path p : ds) {
                try {
                    out.add(Integer.parseInt(p.getFileName().toString().substring(4)));
                } catch (NumberFormatException ignored) {
                    // not loopN
                }
            }
        }
        out.sort(Comparator.naturalOrder());
        return out;
    }

    private static boolean directIoOf(int number) {
        return "1".equals(readSys(SYS_BLOCK.resolve("loop" + number).resolve("loop/dio")));
    }

    /** The attribute's text without its newline, or null when it is not there. */
    private static String readSys(Path p) {
        try {
            return Files.readString(p).strip();
        } catch (IOException e) {
            return null;
        }
    }

    /**
     * /dev/loopN, made from its sysfs device number where no devtmpfs or udev made it (a container's own /dev):
     * the kernel creates the device on LOOP_CTL_GET_FREE, but a /dev that is a plain tmpfs does not see it.
     */
    private static Path deviceNode(int number) throws ErrnoException {
        Path node = DEV.resolve("loop" + number);
        if (Files.exists(node)) {
            return node;
        }
        String dev = readSys(SYS_BLOCK.resolve("loop" + number).resolve("dev"));
        if (dev == null) {
            return node; // the open reports it
        }
        String[] mm = dev.split(":");
        long rdev = Statx.makedev(Integer.parseInt(mm[0]), Integer.parseInt(mm[1]));
        ByteBuffer p = NativeMemory.cString(node.toString());
        if (LibC.mknodat(AT_FDCWD, NativeMemory.address(p), S_IFBLK | 0600, rdev) < 0
                && LibC.errno() != Errno.EEXIST) {
            throw new ErrnoException("mknod", node.toString(), LibC.errno());
        }
        return node;
    }
}
