package io.efuse.csi.volume;

import io.efuse.csi.sys.Errno;
import io.efuse.csi.sys.ErrnoException;
import io.efuse.csi.sys.FileCloneSyscalls;
import io.efuse.csi.sys.FreezeSyscalls;
import io.efuse.csi.sys.LinuxConstants;
import io.efuse.csi.sys.LoopDevices;
import io.efuse.csi.sys.LoopDevices.LoopDevice;
import io.efuse.csi.sys.MountTable;
import io.efuse.csi.sys.SparseCopy;
import io.efuse.csi.sys.StatFs;
import io.efuse.csi.sys.Syscalls;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.OptionalInt;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A volume as a filesystem in a sparse image file, mounted through a loop device. The filesystem in the image
 * enforces the size (writes past it fail with ENOSPC) and counts its own inodes; the host only ever allocates
 * what the filesystem wrote. The loop device reads and writes the image with direct I/O where the kernel allows,
 * so a page is cached once (by the filesystem in the image), not a second time for the image file. Devices are
 * autoclear: the umount frees the device, and a process that dies mid-mount leaves none behind.
 */
public final class FilesystemImage {
    private static final Logger LOG = LoggerFactory.getLogger(FilesystemImage.class);

    /**
     * Images are formatted with 4 KiB blocks and sectors, and their devices get 4 KiB logical blocks: direct I/O
     * then works over any host disk with sectors up to 4 KiB, and an image moved to another host still mounts
     * (an XFS made with 512-byte sectors does not mount on a device with 4 KiB ones).
     */
    static final int BLOCK = 4096;

    private static final long MIB = 1L << 20;

    /** The filesystem inside an image. */
    public enum ImageFs {
        /**
         * ext4 needs 8 MiB for a journal (below that mkfs quietly makes none, and a crash could leave the volume
         * needing a full fsck).
         */
        EXT4("ext4", 8 * MIB, "e2fsprogs"),
        /** mkfs.xfs refuses filesystems under 300 MiB (its log alone is 64 MiB). */
        XFS("xfs", 300 * MIB, "xfsprogs");

        private final String type;
        private final long minimumBytes;
        private final String tools;

        ImageFs(String type, long minimumBytes, String tools) {
            this.type = type;
            this.minimumBytes = minimumBytes;
            this.tools = tools;
        }

        public static ImageFs parse(String value) {
            if (value == null || value.isEmpty()) {
                return EXT4;
            }
            return switch (value.toLowerCase(Locale.ROOT)) {
                case "ext4" -> EXT4;
                case "xfs" -> XFS;
                default -> throw new IllegalArgumentException("filesystem must be ext4 or xfs, not '" + value + "'");
            };
        }

        /** The kernel's name for it (mount(2)'s type). */
        public String type() {
            return type;
        }

        public long minimumBytes() {
            return minimumBytes;
        }
    }

    /** How a copy went: whether the image was reflinked, and the bytes copied when it was not. */
    public record CopyResult(boolean reflinked, long bytesCopied) {}

    private final LoopDevices loops;
    private final FreezeSyscalls freezer;
    private final FileCloneSyscalls clone;
    /** Tests set this to take the sparse-copy path on a host filesystem that could reflink. */
    boolean neverReflink;

    public FilesystemImage(LoopDevices loops, FreezeSyscalls freezer, FileCloneSyscalls clone) {
        this.loops = loops;
        this.freezer = freezer;
        this.clone = clone;
    }

    public FilesystemImage() {
        this(new LoopDevices(), new FreezeSyscalls(), new FileCloneSyscalls());
    }

    /**
     * Makes {@code image}: a sparse file of {@code bytes} (rounded up to 4 KiB) holding an empty filesystem.
     * Built under a temporary name beside it and renamed when complete, so a crash never leaves a half-formatted
     * image under the final name. Returns the image's size.
     *
     * @throws VolumeException OUT_OF_RANGE below the filesystem's minimum, ALREADY_EXISTS when the image exists
     */
    public long create(Path image, long bytes, ImageFs fs) throws VolumeException, IOException {
        long size = roundUp(bytes);
        if (size < fs.minimumBytes()) {
            throw new VolumeException(VolumeException.Reason.OUT_OF_RANGE, "an " + fs.type() + " image must be at least "
                    + fs.minimumBytes() / MIB + " MiB, not " + bytes + " bytes");
        }
        if (Files.exists(image)) {
            throw new VolumeException(VolumeException.Reason.ALREADY_EXISTS, image + " exists");
        }
        Path work = image.resolveSibling("." + image.getFileName() + ".mkfs");
        Files.deleteIfExists(work);
        try {
            try (RandomAccessFile f = new RandomAccessFile(work.toFile(), "rw")) {
                f.setLength(size);
            }
            switch (fs) {
                // -i 16384: one inode per 16 KiB at every size (mke2fs would give small images one per 4 KiB and
                // 1 KiB blocks); resize2fs keeps the ratio as the volume grows. lazy_itable_init and
                // lazy_journal_init leave the inode tables and the journal unwritten: they are holes in a new
                // sparse file, which read as the zeroes mke2fs would have written. nodiscard: nothing to discard.
                case EXT4 -> run("mkfs.ext4", fs, "-q", "-F", "-b", Integer.toString(BLOCK), "-i", "16384", "-m", "0",
                        "-E", "nodiscard,lazy_itable_init=1,lazy_journal_init=1", work.toString());
                case XFS -> run("mkfs.xfs", fs, "-q", "-f", "-K", "-b", "size=" + BLOCK, "-s", "size=" + BLOCK,
                        work.toString());
            }
            try (FileChannel c = FileChannel.open(work, StandardOpenOption.WRITE)) {
                c.force(true);
            }
            Files.move(work, image, StandardCopyOption.ATOMIC_MOVE);
            fsyncDir(image.toAbsolutePath().getParent());
            return size;
        } finally {
            Files.deleteIfExists(work);
        }
    }

    /**
     * Mounts the filesystem in {@code image} at {@code mountPoint} (created if missing). Nothing happens when it is
     * mounted there already. XFS is mounted with {@code nouuid}: a copy of an image carries the original's UUID, and
     * XFS refuses a second filesystem with a UUID already mounted. (ext4 does not look at UUIDs when mounting.)
     *
     * @throws VolumeException NOT_FOUND without the image, IN_USE when something else is mounted there or the image
     *                         is mounted elsewhere, INTERNAL when the image holds no usable filesystem
     */
    public void mount(Path image, Path mountPoint, ImageFs fs, boolean readOnly) throws VolumeException, IOException {
        requireImage(image);
        if (mounted(image, mountPoint)) {
            return;
        }
        Optional<MountTable.Entry> there = MountTable.find(mountPoint);
        if (there.isPresent()) {
            throw new VolumeException(VolumeException.Reason.IN_USE, mountPoint + " has " + there.get().source()
                    + " (" + there.get().fsType() + ") mounted, not " + image);
        }
        // two devices on one image, both mounted, are two filesystems writing over each other's blocks
        for (LoopDevice d : loops.backing(image)) {
            Optional<String> devno = loops.deviceNumber(d.number());
            for (MountTable.Entry e : MountTable.read()) {
                if (devno.isPresent() && devno.get().equals(e.major() + ":" + e.minor())) {
                    throw new VolumeException(VolumeException.Reason.IN_USE, image + " is mounted at "
                            + e.mountPoint() + " already (" + d.device() + ")");
                }
            }
        }
        Files.createDirectories(mountPoint);
        try {
            mountOnce(image, mountPoint, fs, readOnly, readOnly);
        } catch (ErrnoException e) {
            if (readOnly && e.errno() == Errno.EROFS) {
                // the journal (log) needs replaying, which a read-only device cannot take: let the filesystem write
                // its recovery to the image, and still mount it read-only
                LOG.info("{} needs journal recovery; mounting it read-only from a writable device", image);
                try {
                    mountOnce(image, mountPoint, fs, false, true);
                    return;
                } catch (ErrnoException again) {
                    e = again;
                }
            }
            throw new VolumeException(VolumeException.Reason.INTERNAL, "cannot mount the " + fs.type() + " image "
                    + image + " at " + mountPoint + ": " + e.getMessage(), e);
        }
    }

    private void mountOnce(Path image, Path mountPoint, ImageFs fs, boolean readOnlyDevice, boolean readOnlyMount)
            throws ErrnoException {
        // closing the claim detaches the device when the mount failed, and hands it to the mount when it worked
        try (LoopDevices.Claim claim = loops.attachAutoclear(image, readOnlyDevice, true, BLOCK)) {
            LoopDevice dev = claim.device();
            if (!dev.directIo()) {
                LOG.warn("{} on {}: the kernel refused direct I/O; the image's pages are cached twice", image,
                        dev.device());
            }
            Syscalls.mount(dev.device().toString(), mountPoint, fs.type(),
                    readOnlyMount ? LinuxConstants.MS_RDONLY : 0, fs == ImageFs.XFS ? "nouuid" : null);
        }
    }

    /** Whether the filesystem mounted at {@code mountPoint} is the one in {@code image} (through a loop device). */
    public boolean mounted(Path image, Path mountPoint) throws IOException {
        return loopAt(mountPoint).flatMap(n -> loops.device(n))
                .filter(d -> {
                    try {
                        return Files.isSameFile(d.backingFile(), image);
                    } catch (IOException e) {
                        return false;
                    }
                })
                .isPresent();
    }

    /**
     * Unmounts {@code mountPoint}; nothing when nothing is mounted there. The device's autoclear detaches it; a
     * device attached without autoclear (by hand, say) is detached here once nothing uses it.
     *
     * @throws VolumeException BUSY when files on the filesystem are still open
     */
    public void unmount(Path mountPoint) throws VolumeException, IOException {
        Optional<MountTable.Entry> entry = MountTable.find(mountPoint);
        if (entry.isEmpty()) {
            return;
        }
        Optional<LoopDevice> dev = loopAt(mountPoint).flatMap(n -> loops.device(n));
        try {
            Syscalls.umount(mountPoint, 0);
        } catch (ErrnoException e) {
            if (e.errno() == Errno.EBUSY) {
                throw new VolumeException(VolumeException.Reason.BUSY, mountPoint + " is busy: files on it are open",
                        e);
            }
            throw e;
        }
        if (dev.isPresent() && !loops.autoclear(dev.get().number())
                && MountTable.read().stream().noneMatch(m -> m.source().equals(dev.get().device().toString()))) {
            Optional<Path> now = loops.backingFile(dev.get().number());
            if (now.isPresent() && now.get().equals(dev.get().backingFile())) {
                loops.detach(dev.get()); // sets autoclear instead if some other opener still holds it
            }
        }
    }

    /**
     * Grows the image to {@code newBytes} (rounded up to 4 KiB) and its filesystem with it. Mounted at
     * {@code mountPoint}, it grows online: the file, then the device (LOOP_SET_CAPACITY), then the filesystem
     * (resize2fs on the device, xfs_growfs on the mount point), while its files stay open and in use. Not mounted
     * ({@code mountPoint} null or not mounted from this image): ext4 is checked and resized offline; an XFS can
     * only grow mounted, so its file is extended and {@code false} returned: grow it again once mounted. A grow
     * to the current size still grows a filesystem that does not fill its image (a grow interrupted before).
     *
     * @return whether the filesystem now fills the image
     * @throws VolumeException OUT_OF_RANGE when asked to shrink, NOT_FOUND without the image
     */
    public boolean grow(Path image, Path mountPoint, long newBytes, ImageFs fs) throws VolumeException, IOException {
        requireImage(image);
        long size = roundUp(newBytes);
        long current = Files.size(image);
        if (size < current) {
            throw new VolumeException(VolumeException.Reason.OUT_OF_RANGE, "images only grow: " + image + " has "
                    + current + " bytes, asked for " + newBytes);
        }
        if (size == current && filesystemBytes(image, fs) > size - MIB) {
            return true; // nothing to grow (a repeated request)
        }
        boolean online = mountPoint != null && mounted(image, mountPoint);
        if (online && fs == ImageFs.EXT4 && !Syscalls.hasCapability(Syscalls.CAP_SYS_RESOURCE)) {
            // EXT4_IOC_RESIZE_FS checks it; resize2fs would only say "Permission denied to resize filesystem"
            throw new VolumeException(VolumeException.Reason.INTERNAL, "growing the mounted ext4 in " + image
                    + " needs CAP_SYS_RESOURCE, which this process lacks; unmount it to grow it offline");
        }
        if (size > current) {
            try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
                f.setLength(size);
                f.getFD().sync();
            }
        }
        if (online) {
            int n = loopAt(mountPoint).orElseThrow();
            LoopDevice dev = loops.device(n).orElseThrow(() -> new IOException("loop" + n + " lost its file"));
            loops.setCapacity(dev);
            switch (fs) {
                case EXT4 -> run("resize2fs", fs, dev.device().toString());
                case XFS -> run("xfs_growfs", fs, "-d", mountPoint.toString());
            }
            return true;
        }
        switch (fs) {
            case EXT4 -> {
                // resize2fs refuses an unmounted filesystem that was not checked since it was last mounted
                run("e2fsck", fs, 1, "-f", "-p", image.toString()); // 1: it fixed something
                run("resize2fs", fs, image.toString());
                return true;
            }
            case XFS -> {
                return false;
            }
        }
        throw new AssertionError(fs);
    }

    /**
     * The size of the filesystem in the image as its superblock says. Only ever behind while mounted (a grown
     * ext4 writes its superblock through the journal), never ahead, so a grow it makes look necessary is just
     * repeated once more.
     */
    static long filesystemBytes(Path image, ImageFs fs) throws IOException {
        ByteBuffer sb = ByteBuffer.allocate(512);
        try (FileChannel c = FileChannel.open(image, StandardOpenOption.READ)) {
            switch (fs) {
                case EXT4 -> {
                    // struct ext4_super_block at byte 1024, little-endian
                    c.read(sb, 1024);
                    sb.order(ByteOrder.LITTLE_ENDIAN);
                    if (Short.toUnsignedInt(sb.getShort(0x38)) != 0xEF53) {
                        return 0;
                    }
                    long blocks = Integer.toUnsignedLong(sb.getInt(0x04));
                    boolean is64 = (sb.getInt(0x60) & 0x80) != 0; // INCOMPAT_64BIT
                    if (is64) {
                        blocks |= Integer.toUnsignedLong(sb.getInt(0x150)) << 32;
                    }
                    return blocks << (10 + sb.getInt(0x18));
                }
                case XFS -> {
                    // struct xfs_dsb at byte 0, big-endian: magic, blocksize, dblocks
                    c.read(sb, 0);
                    if (sb.getInt(0) != 0x58465342) { // "XFSB"
                        return 0;
                    }
                    return sb.getLong(8) * Integer.toUnsignedLong(sb.getInt(4));
                }
            }
        }
        throw new AssertionError(fs);
    }

    /**
     * Copies the image {@code source} to the new file {@code target}: a reflink where the host filesystem shares
     * extents (XFS, btrfs: instant, no space used until either side changes), else a sparse copy of its data
     * extents only. With the source mounted at {@code sourceMountPoint} (may be null) and writable, its filesystem
     * is frozen for the copy, so the copy holds one consistent state with a clean journal and mounts without
     * recovery. Writers to the source block while it is frozen: for a reflink that is a moment, for a sparse copy
     * as long as copying its data takes. Built under a temporary name beside {@code target} and renamed when done.
     *
     * @throws VolumeException NOT_FOUND without the source, ALREADY_EXISTS when the target exists
     */
    public CopyResult copy(Path source, Path target, Path sourceMountPoint) throws VolumeException, IOException {
        requireImage(source);
        if (Files.exists(target)) {
            throw new VolumeException(VolumeException.Reason.ALREADY_EXISTS, target + " exists");
        }
        Path work = target.resolveSibling("." + target.getFileName() + ".copy");
        Files.deleteIfExists(work);
        try {
            Files.createFile(work);
            CopyResult result;
            try (Frozen frozen = freeze(source, sourceMountPoint)) {
                result = copyFile(source, work);
            }
            Files.move(work, target, StandardCopyOption.ATOMIC_MOVE);
            fsyncDir(target.toAbsolutePath().getParent());
            return result;
        } finally {
            Files.deleteIfExists(work);
        }
    }

    /**
     * Freezes the filesystem of {@code image} where it is mounted writable at {@code mountPoint}, until the result
     * is closed: every writer of it blocks in the kernel meanwhile, whichever path its writes take. Null when it is
     * not mounted there, or read-only: nothing writes it then (and FIFREEZE would refuse a read-only mount).
     */
    public Frozen freeze(Path image, Path mountPoint) throws IOException {
        if (mountPoint == null || !mounted(image, mountPoint)
                || MountTable.find(mountPoint).map(e -> List.of(e.options().split(",")).contains("ro")).orElse(false)) {
            return null;
        }
        freezer.freeze(mountPoint);
        return new Frozen(mountPoint);
    }

    /** A filesystem frozen by {@link #freeze}; closing thaws it. */
    public final class Frozen implements AutoCloseable {
        private final Path mountPoint;

        private Frozen(Path mountPoint) {
            this.mountPoint = mountPoint;
        }

        @Override
        public void close() throws ErrnoException {
            thaw(mountPoint);
        }
    }

    private CopyResult copyFile(Path source, Path target) throws IOException {
        if (!neverReflink) {
            try {
                clone.cloneFile(source, target);
                try (FileChannel c = FileChannel.open(target, StandardOpenOption.WRITE)) {
                    c.force(true);
                }
                return new CopyResult(true, 0);
            } catch (ErrnoException e) {
                int errno = e.errno();
                if (errno != Errno.EOPNOTSUPP && errno != Errno.EXDEV && errno != Errno.EINVAL
                        && errno != Errno.ENOTTY && errno != Errno.ENOSYS) {
                    throw e;
                }
            }
        }
        return new CopyResult(false, SparseCopy.copy(source, target));
    }

    private void thaw(Path mountPoint) throws ErrnoException {
        // retried: a filesystem left frozen blocks every writer of the volume until someone thaws it
        for (int attempt = 0; ; attempt++) {
            try {
                freezer.thaw(mountPoint);
                return;
            } catch (ErrnoException e) {
                if (e.errno() == Errno.EINVAL) {
                    return; // not frozen (any more)
                }
                if (attempt >= 2) {
                    throw e;
                }
                LOG.warn("thawing {} failed, trying again: {}", mountPoint, e.getMessage());
            }
        }
    }

    /**
     * What the filesystem mounted at {@code mountPoint} says it holds (statfs). Blocks the filesystem keeps back
     * from writers count as used (ext4 holds some for metadata under delayed allocation, XFS a pool of its own),
     * so that what is left, {@link Usage#bytesAvailable}, is what can still be written.
     */
    public Usage usage(Path mountPoint) throws ErrnoException {
        StatFs s = StatFs.of(mountPoint);
        long total = s.bytesTotal();
        return new Usage(total - s.bytesAvailable(), total, s.files() - s.filesFree(), s.files());
    }

    /** The loop device number of the filesystem mounted at {@code mountPoint}, if that is one. */
    private Optional<Integer> loopAt(Path mountPoint) throws IOException {
        Optional<MountTable.Entry> e = MountTable.find(mountPoint);
        if (e.isEmpty()) {
            return Optional.empty();
        }
        OptionalInt n = loops.numberOf(e.get().major(), e.get().minor());
        return n.isPresent() ? Optional.of(n.getAsInt()) : Optional.empty();
    }

    private static void requireImage(Path image) throws VolumeException {
        if (!Files.isRegularFile(image)) {
            throw new VolumeException(VolumeException.Reason.NOT_FOUND, "no image " + image);
        }
    }

    private static long roundUp(long bytes) {
        return (bytes + BLOCK - 1) / BLOCK * BLOCK;
    }

    private static void fsyncDir(Path dir) throws IOException {
        try (FileChannel c = FileChannel.open(dir, StandardOpenOption.READ)) {
            c.force(true);
        }
    }

    /** Runs a tool of the filesystem's package; its output becomes the message when it fails. */
    static String run(String tool, ImageFs fs, String... args) throws VolumeException, IOException {
        return run(tool, fs, 0, args);
    }

    /** As {@link #run(String, ImageFs, String...)}, taking exit codes up to {@code maxExit} as success. */
    static String run(String tool, ImageFs fs, int maxExit, String... args) throws VolumeException, IOException {
        return Tools.run(tool, fs.tools, maxExit, args);
    }

    static Optional<Path> findTool(String tool) {
        return Tools.find(tool);
    }
}
