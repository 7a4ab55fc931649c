package io.efuse.csi.volume;

import io.efuse.csi.sys.BtrfsSyscalls;
import io.efuse.csi.sys.ErrnoException;
import io.efuse.csi.sys.LoopDevices;
import io.efuse.csi.sys.MountTable;
import io.efuse.csi.sys.Syscalls;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A btrfs filesystem on an image file, mounted at the backing root through a loop device, for nodes that have no
 * btrfs of their own (as TopoLVM needs a volume group made for it). Made on first start, found again after a
 * restart or a reboot, and grown online when asked for more. An existing image that holds anything but btrfs is
 * never formatted.
 */
public final class BtrfsPool {
    private static final Logger LOG = LoggerFactory.getLogger(BtrfsPool.class);
    /** Below this mkfs.btrfs makes mixed block groups, and little room is left for volumes. */
    public static final long MINIMUM_BYTES = 256L << 20;
    private static final long SUPERBLOCK = 0x10000;

    private final LoopDevices loops;

    public BtrfsPool(LoopDevices loops) {
        this.loops = loops;
    }

    /** Makes sure {@code root} is the btrfs on {@code image}, of at least {@code bytes}. */
    public void ensure(Path image, long bytes, Path root) throws IOException, VolumeException {
        if (bytes < MINIMUM_BYTES) {
            throw new VolumeException(VolumeException.Reason.OUT_OF_RANGE, "a btrfs pool needs at least "
                    + MINIMUM_BYTES + " bytes, not " + bytes);
        }
        Files.createDirectories(root);
        Optional<MountTable.Entry> there = MountTable.find(root);
        if (there.isPresent()) {
            if (!servedFrom(there.get(), image)) {
                throw new VolumeException(VolumeException.Reason.IN_USE, root + " has " + there.get().source()
                        + " (" + there.get().fsType() + ") mounted, not the btrfs pool " + image);
            }
            grow(image, bytes, root);
            return;
        }
        if (!Files.exists(image)) {
            make(image, bytes);
        } else if (!holdsBtrfs(image)) {
            throw new VolumeException(VolumeException.Reason.INVALID, image + " exists and holds no btrfs; it is "
                    + "left as it is (give the pool another file, or remove this one)");
        }
        if (Files.size(image) < bytes) {
            extend(image, bytes);
        }
        try (LoopDevices.Claim claim = loops.attachAutoclear(image, false, true, 4096)) {
            Syscalls.mount(claim.device().device().toString(), root, "btrfs", 0, null);
        } catch (ErrnoException e) {
            throw new VolumeException(VolumeException.Reason.INTERNAL, "cannot mount the btrfs pool " + image
                    + " at " + root + ": " + e.getMessage(), e);
        }
        LOG.info("btrfs pool {} mounted at {}", image, root);
        grow(image, bytes, root); // a file extended while unmounted: btrfs takes the new room once mounted
    }

    private void make(Path image, long bytes) throws IOException, VolumeException {
        Files.createDirectories(image.toAbsolutePath().getParent());
        Path tmp = image.resolveSibling(image.getFileName() + ".new");
        Files.deleteIfExists(tmp);
        try (RandomAccessFile f = new RandomAccessFile(tmp.toFile(), "rw")) {
            f.setLength(bytes);
        }
        try {
            Tools.run("mkfs.btrfs", "btrfs-progs", 0, "-q", "-f", tmp.toString());
            RootLayout.moveIntoPlace(tmp, image);
        } catch (IOException | VolumeException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        LOG.info("btrfs pool {} made: {} bytes", image, bytes);
    }

    private void grow(Path image, long bytes, Path root) throws IOException, VolumeException {
        if (Files.size(image) < bytes) {
            extend(image, bytes);
        }
        // The mount names its device; the device's record of its file may be in another container's paths.
        Optional<MountTable.Entry> there = MountTable.find(root);
        if (there.isPresent() && there.get().source().startsWith("/dev/loop")) {
            try {
                Optional<LoopDevices.LoopDevice> d = loops.device(Integer.parseInt(
                        there.get().source().substring("/dev/loop".length())));
                if (d.isPresent()) {
                    loops.setCapacity(d.get());
                }
            } catch (NumberFormatException e) {
                // a partition or another naming: the device keeps its size until it is attached again
            }
        }
        long have = Files.getFileStore(root).getTotalSpace();
        if (have < Files.size(image) - (64L << 20)) {
            Tools.run("btrfs", "btrfs-progs", 0, "filesystem", "resize", "max", root.toString());
            LOG.info("btrfs pool {} at {} grown to {} bytes", image, root, Files.size(image));
        }
    }

    private static void extend(Path image, long bytes) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(bytes);
            f.getFD().sync();
        }
    }

    /**
     * Whether the btrfs mounted there is the one in the image: by the filesystem's UUID, which its superblock in
     * the image holds. The loop device's record of its file is no help after a restart in a new container, whose
     * paths need not be the ones the device was made with.
     */
    private static boolean servedFrom(MountTable.Entry e, Path image) throws IOException {
        if (!"btrfs".equals(e.fsType()) || !Files.isRegularFile(image)) {
            return false;
        }
        return new BtrfsSyscalls().fsid(Path.of(e.mountPoint())).equals(fsidOf(image));
    }

    /** The UUID in the image's btrfs superblock, spelled as BtrfsSyscalls.fsid spells it. */
    static String fsidOf(Path image) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(16);
        try (FileChannel c = FileChannel.open(image, StandardOpenOption.READ)) {
            c.read(b, SUPERBLOCK + 32); // after the 32-byte checksum
        }
        StringBuilder s = new StringBuilder(36);
        for (int i = 0; i < 16; i++) {
            if (i == 4 || i == 6 || i == 8 || i == 10) {
                s.append('-');
            }
            int v = b.get(i) & 0xff;
            s.append(Character.forDigit(v >> 4, 16)).append(Character.forDigit(v & 0xf, 16));
        }
        return s.toString();
    }

    /** Whether the image starts with a btrfs superblock ("_BHRfS_M" at 64 KiB + 64). */
    static boolean holdsBtrfs(Path image) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(8);
        try (FileChannel c = FileChannel.open(image, StandardOpenOption.READ)) {
            if (c.read(b, SUPERBLOCK + 64) < 8) {
                return false;
            }
        }
        return new String(b.array(), java.nio.charset.StandardCharsets.US_ASCII).equals("_BHRfS_M");
    }
}
