package io.efuse.csi.volume;

import io.efuse.csi.sys.MountTable;
import io.efuse.csi.sys.Syscalls;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A sparse image file per volume ({@code ROOT/images/ID.img}) holding its own ext4 or XFS, mounted through a loop
 * device with direct I/O at {@code ROOT/volumes/ID}, which the FUSE daemon serves. The filesystem in the image is
 * the volume's size: a write past it fails with ENOSPC in the kernel, on every path, and statfs shows it. It grows
 * online. Snapshots are copies of the image taken with its filesystem frozen (reflinked where the root's filesystem
 * shares extents, sparse otherwise); a restore or clone is such a copy, grown to its size. A reboot takes the loop
 * devices and mounts with it: {@link #serve} mounts an image again whenever it is not.
 */
final class ImageEngine implements StorageEngine {
    private static final Logger LOG = LoggerFactory.getLogger(ImageEngine.class);

    private final RootLayout layout;
    private final FilesystemImage images;
    private final TreeCopy treeCopy;
    /** The filesystem of new images; null: ext4 where it can grow while mounted, else XFS where the size allows. */
    private final FilesystemImage.ImageFs fs;

    ImageEngine(RootLayout layout, FilesystemImage images, TreeCopy treeCopy, FilesystemImage.ImageFs fs) {
        this.layout = layout;
        this.images = images;
        this.treeCopy = treeCopy;
        this.fs = fs;
    }

    /** The image engine where loop devices can be made and the filesystem's tools are installed. */
    static Optional<ImageEngine> probe(RootLayout layout, String imageFs, TreeCopy treeCopy, StringBuilder why) {
        FilesystemImage.ImageFs fs = imageFs == null || imageFs.equalsIgnoreCase("auto") ? null
                : FilesystemImage.ImageFs.parse(imageFs);
        Path control = Path.of("/dev/loop-control");
        if (!Files.exists(control) || !Files.isWritable(control)) {
            why.append("no loop devices: /dev/loop-control is missing or not writable (the loop module, or the "
                    + "host's /dev in the container)");
            return Optional.empty();
        }
        for (FilesystemImage.ImageFs f : fs == null ? FilesystemImage.ImageFs.values()
                : new FilesystemImage.ImageFs[] {fs}) {
            String tool = "mkfs." + f.type();
            if (FilesystemImage.findTool(tool).isEmpty()) {
                if (fs != null || f == FilesystemImage.ImageFs.EXT4) {
                    why.append(tool).append(" is missing (install ").append(f == FilesystemImage.ImageFs.EXT4
                            ? "e2fsprogs" : "xfsprogs").append(")");
                    return Optional.empty();
                }
            }
        }
        return Optional.of(new ImageEngine(layout, new FilesystemImage(), treeCopy, fs));
    }

    @Override
    public EngineKind kind() {
        return EngineKind.IMAGE;
    }

    @Override
    public boolean holdsVolume(String id) {
        return Files.isRegularFile(layout.volumeImage(id), LinkOption.NOFOLLOW_LINKS);
    }

    /** Volumes frozen by {@link #freeze} until it is closed. */
    private final java.util.Set<String> frozen = java.util.concurrent.ConcurrentHashMap.newKeySet();

    @Override
    public boolean holdsSnapshot(String id) {
        return Files.isRegularFile(layout.snapshotImage(id), LinkOption.NOFOLLOW_LINKS);
    }

    /**
     * Whether the node's choice may give a volume of this size an image: only where the image can grow while
     * mounted, as every engine's volumes do. A mounted ext4 grows only with CAP_SYS_RESOURCE, and XFS, which grows
     * without it, needs 300 MiB.
     */
    @Override
    public boolean suits(Limits limits) {
        return fs != null || Syscalls.hasCapability(Syscalls.CAP_SYS_RESOURCE)
                || (limits.bytes() >= FilesystemImage.ImageFs.XFS.minimumBytes()
                        && FilesystemImage.findTool("mkfs.xfs").isPresent());
    }

    /** The filesystem a new image of {@code bytes} gets. */
    FilesystemImage.ImageFs filesystemFor(long bytes) {
        if (fs != null) {
            return fs;
        }
        // resize2fs of a mounted ext4 needs CAP_SYS_RESOURCE; xfs_growfs does not, but XFS needs 300 MiB.
        if (Syscalls.hasCapability(Syscalls.CAP_SYS_RESOURCE)
                || bytes < FilesystemImage.ImageFs.XFS.minimumBytes()
                || FilesystemImage.findTool("mkfs.xfs").isEmpty()) {
            return FilesystemImage.ImageFs.EXT4;
        }
        return FilesystemImage.ImageFs.XFS;
    }

    @Override
    public void createVolume(String id, Limits limits, SourceData source) throws IOException, VolumeException {
        if (holdsVolume(id)) {
            resizeVolume(id, limits);
            return;
        }
        Path image = layout.volumeImage(id);
        Path tmp = layout.workPath("create-" + id);
        Path filling = null;
        try {
            FilesystemImage.ImageFs f;
            if (source instanceof ImageSource is) {
                FilesystemImage.CopyResult r = images.copy(is.image(), tmp, is.mountPoint());
                LOG.debug("volume {}: image copied from {} {} ({})", id, source.kind(), source.id(), r);
                sizeRecord(tmp, sizeRecord(is.image()));
                f = detect(tmp);
                filling = Files.createDirectory(layout.workPath("fill-" + id));
                images.mount(tmp, filling, f, false);
                if (f == FilesystemImage.ImageFs.XFS) {
                    images.grow(tmp, filling, Files.size(tmp), f); // a copy of a grown image finishes growing
                }
                growTo(tmp, filling, limits.bytes(), f);
                images.unmount(filling);
                Files.delete(filling);
                filling = null;
            } else {
                f = filesystemFor(limits.bytes());
                if (limits.bytes() < f.minimumBytes()) {
                    // a bigger filesystem would hold more than the volume's size
                    throw new VolumeException(VolumeException.Reason.OUT_OF_RANGE, "volume " + id + " of "
                            + limits.bytes() + " bytes is smaller than an " + f.type() + " image can be ("
                            + f.minimumBytes() + " bytes)");
                }
                images.create(tmp, limits.bytes(), f);
                filling = Files.createDirectory(layout.workPath("fill-" + id));
                images.mount(tmp, filling, f, false);
                fitToSize(tmp, filling, limits.bytes(), f);
                sizeRecord(tmp, limits.bytes());
                if (source != null) {
                    TreeCopy.Result r = treeCopy.copy(source.directory(), filling);
                    LOG.debug("volume {}: filled from {} {}: {}", id, source.kind(), source.id(), r);
                }
                images.unmount(filling);
                Files.delete(filling);
                filling = null;
            }
            RootLayout.moveIntoPlace(tmp, image);
        } catch (IOException | VolumeException | RuntimeException e) {
            if (filling != null) {
                unmountQuietly(filling, e);
                RootLayout.removeTree(filling);
            }
            Files.deleteIfExists(tmp);
            throw e;
        }
        serve(id);
        resizeVolume(id, limits); // an XFS copy grows to the new volume's size only while mounted
    }

    @Override
    public void resizeVolume(String id, Limits limits) throws IOException, VolumeException {
        Path image = requireImage(id);
        Path mnt = serve(id);
        FilesystemImage.ImageFs f = detect(image);
        if (f == FilesystemImage.ImageFs.XFS) {
            images.grow(image, mnt, Files.size(image), f); // finishes a grow begun unmounted (a copied image)
        }
        growTo(image, mnt, limits.bytes(), f);
    }

    /**
     * Grows an image that holds a volume of the size it records to hold {@code bytes}: its metadata grows with
     * it, so the image grows in proportion.
     */
    private void growTo(Path image, Path mnt, long bytes, FilesystemImage.ImageFs f)
            throws IOException, VolumeException {
        long had = sizeRecord(image);
        if (had <= 0 || bytes <= had) {
            return;
        }
        long grown = roundUpMib((long) Math.ceil((double) Files.size(image) * bytes / had));
        grow(image, mnt, grown, f);
        sizeRecord(image, bytes);
    }

    /**
     * Grows the empty, mounted image until its filesystem lets {@code bytes} of data be written: the filesystem's
     * own metadata and reserves (journal, inode tables, log) take a share of the image, and a volume of a size
     * holds that size of data.
     */
    private void fitToSize(Path image, Path mnt, long bytes, FilesystemImage.ImageFs f)
            throws IOException, VolumeException {
        for (int round = 0; round < 4; round++) {
            long offered = io.efuse.csi.sys.StatFs.of(mnt).bytesAvailable();
            if (offered >= bytes) {
                return;
            }
            grow(image, mnt, roundUpMib(Files.size(image) + (bytes - offered)), f);
        }
        throw new IOException("the " + f.type() + " in " + image + " does not grow to hold " + bytes + " bytes");
    }

    private void grow(Path image, Path mnt, long imageBytes, FilesystemImage.ImageFs f)
            throws IOException, VolumeException {
        if (f == FilesystemImage.ImageFs.EXT4 && !Syscalls.hasCapability(Syscalls.CAP_SYS_RESOURCE)
                && mnt.startsWith(layout.work)) {
            // Not yet served: it can grow unmounted, which needs no capability.
            images.unmount(mnt);
            images.grow(image, null, imageBytes, f);
            images.mount(image, mnt, f, false);
        } else {
            images.grow(image, mnt, imageBytes, f);
        }
    }

    /** The volume size an image was made to hold, kept with the image (0: not known). */
    private static long sizeRecord(Path image) throws IOException {
        try {
            var view = Files.getFileAttributeView(image, java.nio.file.attribute.UserDefinedFileAttributeView.class);
            ByteBuffer b = ByteBuffer.allocate(32);
            int n = view.read(SIZE_ATTRIBUTE, b);
            return Long.parseLong(new String(b.array(), 0, n, java.nio.charset.StandardCharsets.US_ASCII));
        } catch (java.nio.file.FileSystemException | NumberFormatException e) {
            return 0;
        }
    }

    private static void sizeRecord(Path image, long bytes) throws IOException {
        Files.getFileAttributeView(image, java.nio.file.attribute.UserDefinedFileAttributeView.class)
                .write(SIZE_ATTRIBUTE, ByteBuffer.wrap(Long.toString(bytes).getBytes(
                        java.nio.charset.StandardCharsets.US_ASCII)));
    }

    private static final String SIZE_ATTRIBUTE = "efuse.volume-bytes";

    private static long roundUpMib(long bytes) {
        long mib = 1L << 20;
        return (bytes + mib - 1) / mib * mib;
    }

    @Override
    public void deleteVolume(String id) throws IOException, VolumeException {
        Path mnt = layout.volumeDir(id);
        if (MountTable.find(mnt).isPresent()) {
            images.unmount(mnt); // the loop device goes with its last mount (autoclear)
        }
        Path aside = layout.moveAside(layout.volumeImage(id));
        if (aside != null) {
            Files.deleteIfExists(aside);
        }
        if (Files.isDirectory(mnt, LinkOption.NOFOLLOW_LINKS) && MountTable.find(mnt).isEmpty()) {
            RootLayout.removeTree(mnt);
        }
    }

    @Override
    public long createSnapshot(String snapshotId, String volumeId) throws IOException, VolumeException {
        Path target = layout.snapshotImage(snapshotId);
        if (!holdsSnapshot(snapshotId)) {
            Path image = requireImage(volumeId);
            Path mnt = layout.volumeDir(volumeId);
            Path tmp = layout.workPath("snapshot-" + snapshotId);
            try {
                // a volume frozen for a group snapshot is frozen already (and a second FIFREEZE would fail)
                FilesystemImage.CopyResult r = images.copy(image, tmp,
                        MountTable.find(mnt).isPresent() && !frozen.contains(volumeId) ? mnt : null);
                LOG.debug("snapshot {} of {}: {}", snapshotId, volumeId, r);
                sizeRecord(tmp, sizeRecord(image));
                RootLayout.moveIntoPlace(tmp, target);
            } catch (IOException | VolumeException | RuntimeException e) {
                Files.deleteIfExists(tmp);
                throw e;
            }
        }
        return Files.size(target);
    }

    @Override
    public AutoCloseable freeze(String id) throws IOException, VolumeException {
        Path mnt = layout.volumeDir(id);
        FilesystemImage.Frozen f = images.freeze(requireImage(id), MountTable.find(mnt).isPresent() ? mnt : null);
        if (f == null) {
            return null;
        }
        frozen.add(id);
        return () -> {
            frozen.remove(id);
            f.close();
        };
    }

    @Override
    public void deleteSnapshot(String id) throws IOException {
        Path aside = layout.moveAside(layout.snapshotImage(id));
        if (aside != null) {
            Files.deleteIfExists(aside);
        }
    }

    @Override
    public Usage usage(String id, Limits limits) throws IOException, VolumeException {
        Usage u = images.usage(serve(id));
        return new Usage(u.bytesUsed(), limits.bytes(), u.inodesUsed(), u.inodesTotal());
    }

    @Override
    public Path serve(String id) throws IOException, VolumeException {
        Path image = requireImage(id);
        Path mnt = layout.volumeDir(id);
        Files.createDirectories(mnt);
        if (!images.mounted(image, mnt)) {
            images.mount(image, mnt, detect(image), false);
            LOG.info("volume {}: image {} mounted at {}", id, image, mnt);
        }
        return mnt;
    }

    /**
     * The image's filesystem enforces the size. Its statfs shows a little more (the image was grown by what its
     * metadata takes), so the daemon shows the volume's size exactly, with the image's own free space.
     */
    @Override
    public ServedLimits served(String id, Limits limits) {
        return new ServedLimits(Limits.NONE, limits.bytes(), null);
    }

    @Override
    public long availableBytes() throws IOException {
        return Files.getFileStore(layout.root).getUsableSpace();
    }

    @Override
    public SourceData source(ContentSource.Kind kind, String id) throws IOException {
        if (kind == ContentSource.Kind.VOLUME) {
            Path mnt = layout.volumeDir(id);
            return new ImageSource(kind, id, layout.volumeImage(id), MountTable.find(mnt).isPresent() ? mnt : null,
                    null);
        }
        return new ImageSource(kind, id, layout.snapshotImage(id), null, layout.workPath("read-" + id));
    }

    @Override
    public boolean removeLeftover(Path leftover) throws IOException {
        if (MountTable.find(leftover).isEmpty()) {
            return false;
        }
        try {
            images.unmount(leftover);
        } catch (VolumeException e) {
            throw new IOException("unmount leftover " + leftover + ": " + e.getMessage(), e);
        }
        RootLayout.removeTree(leftover);
        return true;
    }

    private Path requireImage(String id) throws NoSuchFileException {
        Path image = layout.volumeImage(id);
        if (!Files.isRegularFile(image, LinkOption.NOFOLLOW_LINKS)) {
            throw new NoSuchFileException(image.toString(), null, "the volume's image is missing");
        }
        return image;
    }

    /** The filesystem in an image, from its superblock's magic. */
    static FilesystemImage.ImageFs detect(Path image) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(2048);
        try (FileChannel c = FileChannel.open(image, StandardOpenOption.READ)) {
            while (b.hasRemaining() && c.read(b) > 0) {
                // read the head of the image
            }
        }
        if (b.get(0) == 'X' && b.get(1) == 'F' && b.get(2) == 'S' && b.get(3) == 'B') {
            return FilesystemImage.ImageFs.XFS;
        }
        if ((b.get(1080) & 0xff) == 0x53 && (b.get(1081) & 0xff) == 0xEF) {
            return FilesystemImage.ImageFs.EXT4;
        }
        throw new IOException(image + " holds neither ext4 nor XFS");
    }

    private void unmountQuietly(Path mnt, Exception failure) {
        try {
            images.unmount(mnt);
        } catch (IOException | VolumeException e) {
            failure.addSuppressed(e);
        }
    }

    /** An image as a source: its file, where it is mounted (null: not), and where to mount it to read its files. */
    private final class ImageSource implements SourceData {
        private final ContentSource.Kind kind;
        private final String id;
        private final Path image;
        private final Path mountPoint;
        private final Path readAt;
        private boolean mounted;

        ImageSource(ContentSource.Kind kind, String id, Path image, Path mountPoint, Path readAt) {
            this.kind = kind;
            this.id = id;
            this.image = image;
            this.mountPoint = mountPoint;
            this.readAt = readAt;
        }

        Path image() {
            return image;
        }

        Path mountPoint() {
            return mountPoint;
        }

        @Override
        public ContentSource.Kind kind() {
            return kind;
        }

        @Override
        public String id() {
            return id;
        }

        @Override
        public EngineKind engine() {
            return EngineKind.IMAGE;
        }

        @Override
        public Path directory() throws IOException {
            if (kind == ContentSource.Kind.VOLUME) {
                try {
                    return serve(id);
                } catch (VolumeException e) {
                    throw new IOException(e.getMessage(), e);
                }
            }
            if (!mounted) {
                Files.createDirectories(readAt);
                try {
                    images.mount(image, readAt, detect(image), true);
                } catch (VolumeException e) {
                    throw new IOException("mount snapshot " + id + " to read it: " + e.getMessage(), e);
                }
                mounted = true;
            }
            return readAt;
        }

        @Override
        public void close() throws IOException {
            if (mounted) {
                try {
                    images.unmount(readAt);
                } catch (VolumeException e) {
                    throw new IOException("unmount snapshot " + id + " at " + readAt + ": " + e.getMessage(), e);
                }
                mounted = false;
                RootLayout.removeTree(readAt);
            }
        }
    }
}
