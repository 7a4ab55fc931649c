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
    /**
     * For a node kept without a descriptor (see InodeTable): its struct file_handle, opened with
     * open_by_handle_at for the length of one request. Null when {@link #fd} is valid.
     */
    final byte[] handle;
    /** Last mode seen from the backing file: the type never changes, the permission bits are a hint. */
    volatile int mode;
    /** Guarded by the owning {@link InodeTable}. */
    long nlookup;
    /** The passthrough backing id all open files of this node share, valid while backingOpens > 0. Guarded by this. */
    int backingId = -1;
    int backingOpens;
    /**
     * Open files of this node on the daemon's path that the kernel may serve from its page cache. A passthrough
     * open is tried only while this is 0, since the kernel fails a passthrough open of an inode in cached io mode
     * (readers of a volume whose size the daemon enforces, and every open after a live change of the tier).
     * Guarded by this.
     */
    int daemonOpens;
    /**
     * Set when the node goes through passthrough, where writes miss the kernel's page cache: the next open on
     * the daemon's path drops the pages cached before. Written under this.
     */
    volatile boolean cacheStale;

    /** A node restored from the state journal whose descriptor is opened on first use (fd is -1 until then). */
    static Inode restored(long nodeId, int generation, long dev, long ino, int mode) {
        return new Inode(nodeId, generation, -1, dev, ino, mode);
    }

    /** Restored and not yet reopened (a node kept by file handle is not pending: it has its handle). */
    boolean pending() {
        return fd < 0 && handle == null;
    }

    Inode(long nodeId, int generation, int fd, long dev, long ino, int mode) {
        this(nodeId, generation, fd, dev, ino, mode, null);
    }

    Inode(long nodeId, int generation, int fd, long dev, long ino, int mode, byte[] handle) {
        this.handle = handle;
        this.nodeId = nodeId;
        this.generation = generation;
        this.fd = fd;
        this.dev = dev;
        this.ino = ino;
        this.mode = mode;
    }
}
