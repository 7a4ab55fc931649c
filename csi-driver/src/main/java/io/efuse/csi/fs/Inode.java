package io.efuse.csi.fs;

/**
 * A backing file the kernel knows by node id: an O_PATH descriptor (never a path string, so renames
 * behind it cannot redirect it), its identity, and the kernel's lookup count.
 */
final class Inode {
    final long nodeId;
    final int generation;
    final int fd;
    final long dev;
    final long ino;
    /** Last mode seen from the backing file: the type never changes, the permission bits are a hint. */
    volatile int mode;
    /** Guarded by the owning {@link InodeTable}. */
    long nlookup;

    Inode(long nodeId, int generation, int fd, long dev, long ino, int mode) {
        this.nodeId = nodeId;
        this.generation = generation;
        this.fd = fd;
        this.dev = dev;
        this.ino = ino;
        this.mode = mode;
    }
}
