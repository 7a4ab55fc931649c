package io.efuse.csi.fs;

import static io.efuse.csi.sys.LinuxConstants.*;

import io.efuse.csi.fuse.FuseAbi;
import io.efuse.csi.fuse.FuseConnection;
import io.efuse.csi.fuse.FuseFilesystem;
import io.efuse.csi.fuse.FuseReply;
import io.efuse.csi.fuse.FuseRequest;
import io.efuse.csi.fuse.FuseStructs.AccessIn;
import io.efuse.csi.fuse.FuseStructs.Attr;
import io.efuse.csi.fuse.FuseStructs.AttrOut;
import io.efuse.csi.fuse.FuseStructs.CopyFileRangeIn;
import io.efuse.csi.fuse.FuseStructs.CreateIn;
import io.efuse.csi.fuse.FuseStructs.Dirent;
import io.efuse.csi.fuse.FuseStructs.Direntplus;
import io.efuse.csi.fuse.FuseStructs.EntryOut;
import io.efuse.csi.fuse.FuseStructs.FallocateIn;
import io.efuse.csi.fuse.FuseStructs.FsyncIn;
import io.efuse.csi.fuse.FuseStructs.GetattrIn;
import io.efuse.csi.fuse.FuseStructs.GetxattrIn;
import io.efuse.csi.fuse.FuseStructs.GetxattrOut;
import io.efuse.csi.fuse.FuseStructs.Kstatfs;
import io.efuse.csi.fuse.FuseStructs.LinkIn;
import io.efuse.csi.fuse.FuseStructs.LseekIn;
import io.efuse.csi.fuse.FuseStructs.LseekOut;
import io.efuse.csi.fuse.FuseStructs.MkdirIn;
import io.efuse.csi.fuse.FuseStructs.MknodIn;
import io.efuse.csi.fuse.FuseStructs.OpenIn;
import io.efuse.csi.fuse.FuseStructs.OpenOut;
import io.efuse.csi.fuse.FuseStructs.ReadIn;
import io.efuse.csi.fuse.FuseStructs.ReleaseIn;
import io.efuse.csi.fuse.FuseStructs.SetattrIn;
import io.efuse.csi.fuse.FuseStructs.SetxattrIn;
import io.efuse.csi.fuse.FuseStructs.WriteIn;
import io.efuse.csi.fuse.FuseStructs.WriteOut;
import io.efuse.csi.sys.Errno;
import io.efuse.csi.sys.LibC;
import io.efuse.csi.sys.NativeMemory;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The stackable filesystem: every node is an O_PATH descriptor of a file under the backing root, and
 * every operation is a system call relative to such a descriptor. Names come from the kernel one
 * component at a time and are resolved with O_NOFOLLOW, so nothing can lead outside the backing root:
 * symlinks are only ever read, and "." and ".." are never resolved by name. Files are created with the
 * caller's fsuid/fsgid; permissions are checked by the kernel (default_permissions).
 */
public final class EfuseFilesystem implements FuseFilesystem {
    private static final Logger LOG = LoggerFactory.getLogger(EfuseFilesystem.class);
    private static final int PATH_FLAGS = O_PATH | O_NOFOLLOW | O_CLOEXEC;
    private static final int STATX_FLAGS = AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW;
    private static final int ENOTSUP = Errno.EOPNOTSUPP;
    private static final byte[] ACL_ACCESS = "system.posix_acl_access".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    private static final byte[] ACL_DEFAULT = "system.posix_acl_default".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    private static final ByteBuffer ACL_ACCESS_NAME = NativeMemory.cString("system.posix_acl_access");
    private static final ByteBuffer ACL_DEFAULT_NAME = NativeMemory.cString("system.posix_acl_default");

    private final MountOptions options;
    private final InodeTable inodes = InodeTable.withSyscallClose();
    private final long entrySec;
    private final int entryNsec;
    private final long attrSec;
    private final int attrNsec;
    private final AtomicLong passthroughOpen = new AtomicLong();
    private final AtomicLong passthroughOpenedTotal = new AtomicLong();
    /** Handles whose writes reach their backing file in the kernel, past the daemon and its mutation gate. */
    private final java.util.Set<Long> passthroughWriters = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private volatile FuseConnection connection;
    private volatile boolean passthrough;
    /** The tier files are opened with from now on: as mounted, or as a live change set it ({@link #retier}). */
    private volatile Tier tier;
    private volatile boolean writeback;
    private volatile boolean setxattrExt;
    /** The kernel checks POSIX ACLs (FUSE_POSIX_ACL): it asks for them with GETXATTR and must never get EOPNOTSUPP. */
    private volatile boolean posixAcl;
    /** Whether the backing filesystem keeps POSIX ACLs (probed on its root when mounting). */
    private final boolean backingAcls;
    private volatile boolean passthroughFailureLogged;
    private final long rootDev;
    private final int handleMountFd;
    /** The daemon's own size limit, or null when the volume has none (or the kernel enforces it). */
    private final SpaceAccount account;
    /** The usage file of a shown size, as a C string; null without one. */
    private final ByteBuffer usagePath;
    /** The size statfs shows for an engine that enforces it in the kernel; grows with the volume. */
    private volatile long shownBytes;
    /** Recoverable state (null: the volume does not survive a daemon restart) and this incarnation's number. */
    private volatile VolumeState state;
    private volatile int epoch;

    /** Takes ownership of rootFd, an O_PATH descriptor of the backing root directory. */
    public EfuseFilesystem(MountOptions options, int rootFd, long rootDev, long rootIno) {
        this(options, rootFd, rootDev, rootIno, null);
    }

    /** Changes the limits of a volume mounted with limits; false if it was mounted without. */
    boolean resize(long maxBytes, long maxInodes) {
        if (account == null) {
            if (shownBytes > 0 && maxBytes > 0) {
                shownBytes = maxBytes; // the engine that enforces the size has grown it: df follows
                return true;
            }
            return false;
        }
        account.setLimits(maxBytes, maxInodes);
        return true;
    }

    EfuseFilesystem(MountOptions options, int rootFd, long rootDev, long rootIno, SpaceAccount account) {
        this.options = options;
        this.tier = options.tier();
        this.rootDev = rootDev;
        NodeDescriptors.refreshBudget();
        // open_by_handle_at wants a real (not O_PATH) descriptor of the filesystem the handles belong to.
        ByteBuffer path = NativeMemory.allocate(32);
        this.handleMountFd = LibC.open(NativeMemory.procFdPath(path, NativeMemory.address(path), 0, rootFd),
                O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        this.account = account;
        this.shownBytes = options.shownBytes();
        this.usagePath = options.usageFile() == null ? null : NativeMemory.cString(options.usageFile().toString());
        this.entrySec = options.entryTimeout().getSeconds();
        this.entryNsec = options.entryTimeout().getNano();
        this.attrSec = options.attrTimeout().getSeconds();
        this.attrNsec = options.attrTimeout().getNano();
        inodes.installRoot(rootFd, rootDev, rootIno, S_IFDIR | 0755);
        this.backingAcls = probeAcls(rootFd);
    }

    /** EOPNOTSUPP for the access ACL of the root means the backing filesystem has no ACLs (tmpfs without them, noacl). */
    private static boolean probeAcls(int rootFd) {
        ByteBuffer path = NativeMemory.allocate(32);
        long p = NativeMemory.procFdPath(path, NativeMemory.address(path), 0, rootFd);
        return LibC.getxattr(p, NativeMemory.address(ACL_ACCESS_NAME), 0, 0) >= 0 || LibC.errno() != ENOTSUP;
    }

    /**
     * Whether to negotiate FUSE_POSIX_ACL: only over a backing filesystem that keeps ACLs. Elsewhere the kernel
     * would ask for ACLs it cannot get, and without FUSE_POSIX_ACL it checks the mode bits, as the backing
     * filesystem itself does.
     */
    public boolean backingHasAcls() {
        return backingAcls;
    }

    @Override
    public void init(FuseConnection c) {
        this.connection = c;
        this.passthrough = c.passthrough() && tier != Tier.CLASSIC;
        this.writeback = c.writebackCache();
        this.setxattrExt = (c.flags() & FuseAbi.SETXATTR_EXT) != 0;
        this.posixAcl = (c.flags() & FuseAbi.POSIX_ACL) != 0;
    }

    @Override
    public void destroy() {
        inodes.clear();
        LibC.close(handleMountFd);
    }

    /**
     * Changes the tier of the files opened from now on; those open already keep theirs. Passthrough needs
     * FUSE_PASSTHROUGH, which only INIT negotiates: false, and nothing changed, when the tier asks for it and the
     * connection has none. Classic is always possible.
     */
    boolean retier(Tier t) {
        FuseConnection c = connection;
        if (t != Tier.CLASSIC && (c == null || !c.passthrough())) {
            return false;
        }
        tier = t;
        passthrough = t != Tier.CLASSIC;
        return true;
    }

    /** Whether regular files are really opened with passthrough on this mount. */
    public boolean passthroughActive() {
        return passthrough;
    }

    public long passthroughOpenFiles() {
        return passthroughOpen.get();
    }

    /**
     * Open files that write to their backing file without the daemon: the mount's gate cannot hold their writes
     * back, only a freeze of the backing filesystem can. Handles from before a takeover are counted when they were
     * opened for writing with passthrough, whichever way their writes went.
     */
    public int passthroughWriters() {
        VolumeState st = state;
        return passthroughWriters.size() + (st == null ? 0 : st.earlierPassthroughWriters());
    }

    public long passthroughOpenedTotal() {
        return passthroughOpenedTotal.get();
    }

    /** The node id the kernel knows for a backing file, or 0 if it knows none. */
    long nodeIdOf(long dev, long ino) {
        Inode inode = inodes.find(dev, ino);
        return inode == null ? 0 : inode.nodeId;
    }

    /** The O_PATH descriptor of the backing root (owned by this filesystem). */
    int rootFd() {
        return inodes.get(1).fd;
    }

    public int nodeDescriptors() {
        return inodes.descriptors();
    }

    public int nodeCount() {
        return inodes.size();
    }

    @Override
    public void requestDone(FuseRequest rq) {
        Object st = rq.workerState();
        if (st != null) {
            ((WorkerScratch) st).closeTemporary();
        }
    }

    /**
     * A descriptor of inode for the current request: its own, or one opened from its file handle and
     * closed after the request. Negative: -errno (ESTALE once the file is gone).
     */
    private int fdOf(WorkerScratch s, Inode inode) {
        if (inode.fd >= 0) {
            return inode.fd;
        }
        s.buf.put(WorkerScratch.HANDLE, inode.handle);
        int fd = LibC.open_by_handle_at(handleMountFd, s.handle(), O_PATH | O_CLOEXEC);
        if (fd < 0) {
            return -LibC.errno();
        }
        return s.closeAfterRequest(fd);
    }

    /** The struct file_handle of fd, or null if the backing filesystem cannot give one. */
    private static byte[] fileHandle(WorkerScratch s, int fd) {
        s.buf.putInt(WorkerScratch.HANDLE, 128);
        if (LibC.name_to_handle_at(fd, s.empty(), s.handle(), s.mountId(), AT_EMPTY_PATH) < 0) {
            return null;
        }
        byte[] h = new byte[8 + s.buf.getInt(WorkerScratch.HANDLE)];
        s.buf.get(WorkerScratch.HANDLE, h);
        return h;
    }

    private static WorkerScratch scratch(FuseRequest rq) {
        Object s = rq.workerState();
        if (s == null) {
            WorkerScratch w = new WorkerScratch();
            rq.workerState(w);
            return w;
        }
        return (WorkerScratch) s;
    }

    // ---- attributes and entries ----

    /** statx of fd itself into the scratch statx region; 0 or an errno. */
    private static int stat(WorkerScratch s, int fd) {
        return LibC.statx(fd, s.empty(), STATX_FLAGS, STATX_BASIC_STATS, s.statx()) < 0 ? LibC.errno() : 0;
    }

    /**
     * statx of fd into the second region: its allocated bytes (stx_blocks × 512), with its size left at
     * STATX2 + 40; -1 if it cannot be measured (callers then charge nothing).
     */
    private static long allocatedOf(WorkerScratch s, int fd) {
        if (LibC.statx(fd, s.empty(), STATX_FLAGS, STATX_BASIC_STATS, s.statx2()) < 0) {
            return -1;
        }
        return s.buf.getLong(WorkerScratch.STATX2 + 48) * 512;
    }

    private static long sizeMeasured(WorkerScratch s) {
        return s.buf.getLong(WorkerScratch.STATX2 + 40);
    }

    /**
     * Reserves what an operation on [offset, end) of fd may allocate; fd's allocated bytes must have just been
     * measured (allocated, with its size in the scratch). Returns the reservation (0: nothing to settle after),
     * or -1 if the volume is full. Past the backing filesystem's largest file size nothing is reserved, so that
     * the backing filesystem answers EFBIG, as it does before it would allocate.
     */
    private long reserve(WorkerScratch s, long allocated, long offset, long end) {
        if (allocated < 0) {
            return 0;
        }
        SpaceAccount a = account;
        long r = a.mayAllocate(offset, Math.min(end, a.maxFileSize()), sizeMeasured(s), allocated);
        return r == 0 || a.chargeBytes(r) ? r : -1;
    }

    /** After an operation that may have changed fd's blocks: settles the reservation to the measured change. */
    private void settle(WorkerScratch s, int fd, long reserved, long before) {
        if (before < 0) {
            return;
        }
        long after = allocatedOf(s, fd);
        account.settle(reserved, after < 0 ? reserved : after - before);
    }

    /** Before removing name in parent: what its removal frees, {allocated bytes, 1 if it is the last link}; null if unknown. */
    private long[] removalOf(WorkerScratch s, Inode parent, long name) {
        int fd = LibC.openat(parent.fd, name, PATH_FLAGS, 0);
        if (fd < 0) {
            return null;
        }
        int r = LibC.statx(fd, s.empty(), STATX_FLAGS, STATX_BASIC_STATS, s.statx2());
        LibC.close(fd);
        if (r < 0) {
            return null;
        }
        ByteBuffer b = s.buf;
        int mode = b.getShort(WorkerScratch.STATX2 + 28) & 0xffff;
        int nlink = b.getInt(WorkerScratch.STATX2 + 16);
        boolean last = isDir(mode) || nlink <= 1;
        return new long[] {isRegular(mode) ? b.getLong(WorkerScratch.STATX2 + 48) * 512 : 0, last ? 1 : 0};
    }

    private void release(long[] removed) {
        if (account != null && removed != null && removed[1] == 1) {
            account.releaseInode();
            account.releaseBytes(removed[0]);
        }
    }

    private boolean chargeInode() {
        return account == null || account.chargeInode();
    }

    private void refundInode() {
        if (account != null) {
            account.releaseInode();
        }
    }

    private static void putAttr(FuseReply rp, int off, ByteBuffer sx) {
        int b = WorkerScratch.STATX;
        rp.putU64(off + Attr.INO, sx.getLong(b + 32));
        rp.putU64(off + Attr.SIZE_, sx.getLong(b + 40));
        rp.putU64(off + Attr.BLOCKS, sx.getLong(b + 48));
        rp.putU64(off + Attr.ATIME, sx.getLong(b + 64));
        rp.putU64(off + Attr.MTIME, sx.getLong(b + 112));
        rp.putU64(off + Attr.CTIME, sx.getLong(b + 96));
        rp.putU32(off + Attr.ATIMENSEC, sx.getInt(b + 72));
        rp.putU32(off + Attr.MTIMENSEC, sx.getInt(b + 120));
        rp.putU32(off + Attr.CTIMENSEC, sx.getInt(b + 104));
        rp.putU32(off + Attr.MODE, sx.getShort(b + 28) & 0xffff);
        rp.putU32(off + Attr.NLINK, sx.getInt(b + 16));
        rp.putU32(off + Attr.UID, sx.getInt(b + 20));
        rp.putU32(off + Attr.GID, sx.getInt(b + 24));
        int major = sx.getInt(b + 128);
        int minor = sx.getInt(b + 132);
        // The kernel's 32-bit encoding of dev_t (new_encode_dev).
        rp.putU32(off + Attr.RDEV, (minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12));
        rp.putU32(off + Attr.BLKSIZE, sx.getInt(b + 4));
        rp.putU32(off + Attr.FLAGS, 0);
    }

    private static long devOf(ByteBuffer sx) {
        return ((long) sx.getInt(WorkerScratch.STATX + 136) << 32) | (sx.getInt(WorkerScratch.STATX + 140) & 0xffffffffL);
    }

    private void putAttrOut(FuseReply rp, WorkerScratch s) {
        rp.putU64(AttrOut.ATTR_VALID, attrSec);
        rp.putU32(AttrOut.ATTR_VALID_NSEC, attrNsec);
        rp.putU32(AttrOut.DUMMY, 0);
        putAttr(rp, AttrOut.ATTR, s.buf);
        rp.payloadLength(AttrOut.SIZE);
    }

    /**
     * Makes fd (a new O_PATH descriptor, owned from here on) a node the kernel knows and writes its
     * fuse_entry_out at off. Returns 0 or an errno (fd is closed then).
     */
    private int entry(WorkerScratch s, FuseReply rp, int off, int fd) {
        int err = stat(s, fd);
        if (err != 0) {
            LibC.close(fd);
            return err;
        }
        ByteBuffer sx = s.buf;
        int mode = sx.getShort(WorkerScratch.STATX + 28) & 0xffff;
        long dev = devOf(sx);
        // Past the descriptor budget, files (not directories: they are the parents of every *at call)
        // are kept by file handle and opened only while a request needs them.
        byte[] handle = !isDir(mode) && dev == rootDev && NodeDescriptors.exhausted()
                ? fileHandle(s, fd) : null;
        Inode inode = inodes.lookupOrInsert(fd, dev, sx.getLong(WorkerScratch.STATX + 32), mode, handle);
        rp.putU64(off + EntryOut.NODEID, inode.nodeId);
        rp.putU64(off + EntryOut.GENERATION, inode.generation);
        rp.putU64(off + EntryOut.ENTRY_VALID, entrySec);
        rp.putU64(off + EntryOut.ATTR_VALID, attrSec);
        rp.putU32(off + EntryOut.ENTRY_VALID_NSEC, entryNsec);
        rp.putU32(off + EntryOut.ATTR_VALID_NSEC, attrNsec);
        putAttr(rp, off + EntryOut.ATTR, sx);
        return 0;
    }

    /** A negative entry: the kernel may remember for entryTimeout that the name does not exist. */
    private int negativeEntry(FuseReply rp, int off) {
        if (entrySec == 0 && entryNsec == 0) {
            return Errno.ENOENT;
        }
        rp.zero(off, EntryOut.SIZE);
        rp.putU64(off + EntryOut.ENTRY_VALID, entrySec);
        rp.putU32(off + EntryOut.ENTRY_VALID_NSEC, entryNsec);
        rp.payloadLength(off + EntryOut.SIZE);
        return 0;
    }

    private int lookupName(WorkerScratch s, Inode parent, long name, FuseReply rp, int off) {
        int fd = LibC.openat(parent.fd, name, PATH_FLAGS, 0);
        if (fd < 0) {
            return LibC.errno();
        }
        int err = entry(s, rp, off, fd);
        if (err == 0) {
            rp.payloadLength(off + EntryOut.SIZE);
        }
        return err;
    }

    // ---- operations ----

    @Override
    public int lookup(FuseRequest rq, FuseReply rp) {
        Inode parent = inodes.get(rq.nodeId());
        if (parent == null) {
            return Errno.ESTALE;
        }
        if (rq.isDotOrDotDot(0)) {
            // Only NFS-export style lookups ask for "." or ".."; never let ".." climb out of the root.
            return parent.nodeId == 1 || rq.stringLength(0) == 1 ? sameNode(scratch(rq), parent, rp)
                    : lookupParent(scratch(rq), parent, rp);
        }
        WorkerScratch s = scratch(rq);
        int err = lookupName(s, parent, rq.argAddress(0), rp, 0);
        return err == Errno.ENOENT ? negativeEntry(rp, 0) : err;
    }

    private int sameNode(WorkerScratch s, Inode node, FuseReply rp) {
        int fd = LibC.fcntl(node.fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0) {
            return LibC.errno();
        }
        int err = entry(s, rp, 0, fd);
        if (err == 0) {
            rp.payloadLength(EntryOut.SIZE);
        }
        return err;
    }

    private int lookupParent(WorkerScratch s, Inode dir, FuseReply rp) {
        s.buf.put(WorkerScratch.SMALL, (byte) '.').put(WorkerScratch.SMALL + 1, (byte) '.')
                .put(WorkerScratch.SMALL + 2, (byte) 0);
        return lookupName(s, dir, s.small(), rp, 0);
    }

    @Override
    public void forget(long nodeId, long nlookup) {
        inodes.forget(nodeId, nlookup);
    }

    @Override
    public int getattr(FuseRequest rq, FuseReply rp) {
        Inode inode = inodes.get(rq.nodeId());
        if (inode == null) {
            return Errno.ESTALE;
        }
        WorkerScratch s = scratch(rq);
        int fd;
        if ((rq.u32(GetattrIn.GETATTR_FLAGS) & FuseAbi.GETATTR_FH) != 0) {
            fd = fileFd(rq.nodeId(), rq.u64(GetattrIn.FH));
        } else {
            fd = fdOf(s, inode);
            if (fd < 0) {
                return -fd;
            }
        }
        int err = stat(s, fd);
        if (err != 0) {
            return err;
        }
        inode.mode = s.buf.getShort(WorkerScratch.STATX + 28) & 0xffff;
        putAttrOut(rp, s);
        return 0;
    }

    /**
     * A size change: growing makes a hole and allocates nothing, so it is never EDQUOT, and whatever the backing
     * filesystem says of the size (EFBIG past its largest file, or a sparse file) is the answer. Shrinking gives
     * back the blocks it freed.
     */
    private int truncate(FuseRequest rq, WorkerScratch s, int ifd, int fh, long size) {
        SpaceAccount a = account;
        if (a == null) {
            return (fh >= 0 ? LibC.ftruncate(fh, size) : LibC.truncate(s.procPath(ifd), size)) < 0 ? LibC.errno() : 0;
        }
        var lock = a.lockFor(rq.nodeId());
        lock.lock();
        try {
            long before = allocatedOf(s, ifd);
            boolean shrinks = before >= 0 && size < sizeMeasured(s);
            if ((fh >= 0 ? LibC.ftruncate(fh, size) : LibC.truncate(s.procPath(ifd), size)) < 0) {
                return LibC.errno();
            }
            if (shrinks) {
                settle(s, ifd, 0, before);
            }
            return 0;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public int setattr(FuseRequest rq, FuseReply rp) {
        Inode inode = inodes.get(rq.nodeId());
        if (inode == null) {
            return Errno.ESTALE;
        }
        WorkerScratch s = scratch(rq);
        int ifd = fdOf(s, inode);
        if (ifd < 0) {
            return -ifd;
        }
        int valid = rq.u32(SetattrIn.VALID);
        boolean hasFh = (valid & FuseAbi.FATTR_FH) != 0;
        int fh = hasFh ? fileFd(rq.nodeId(), rq.u64(SetattrIn.FH)) : -1;
        boolean symlink = isSymlink(inode.mode);
        if ((valid & FuseAbi.FATTR_SIZE) != 0) {
            long size = rq.u64(SetattrIn.SIZE_);
            int err = truncate(rq, s, ifd, fh, size);
            if (err != 0) {
                return err;
            }
        }
        if ((valid & ~(FuseAbi.FATTR_FH | FuseAbi.FATTR_LOCKOWNER | FuseAbi.FATTR_CTIME)) == 0) {
            // chown(2) to the current owner (-1, -1): with KILLPRIV_V2 the kernel leaves killing the
            // set-id bits to the daemon but sends no attribute at all (ctime only travels with the
            // writeback cache). The same chown on the backing file updates ctime and clears set-id
            // bits exactly as the backing filesystem does natively.
            if (LibC.fchownat(ifd, s.empty(), -1, -1, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
                return LibC.errno();
            }
        }
        if ((valid & (FuseAbi.FATTR_UID | FuseAbi.FATTR_GID)) != 0) {
            int uid = (valid & FuseAbi.FATTR_UID) != 0 ? rq.u32(SetattrIn.UID) : -1;
            int gid = (valid & FuseAbi.FATTR_GID) != 0 ? rq.u32(SetattrIn.GID) : -1;
            if (LibC.fchownat(ifd, s.empty(), uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
                return LibC.errno();
            }
        }
        if ((valid & FuseAbi.FATTR_MODE) != 0) {
            if (symlink) {
                return ENOTSUP;
            }
            int mode = rq.u32(SetattrIn.MODE) & 07777;
            int r = fh >= 0 ? LibC.fchmod(fh, mode) : LibC.fchmodat(AT_FDCWD, s.procPath(ifd), mode, 0);
            if (r < 0) {
                return LibC.errno();
            }
        } else if ((valid & FuseAbi.FATTR_KILL_SUIDGID) != 0) {
            int err = killSuidSgid(s, inode);
            if (err != 0) {
                return err;
            }
        }
        if ((valid & (FuseAbi.FATTR_ATIME | FuseAbi.FATTR_MTIME)) != 0) {
            ByteBuffer b = s.buf;
            int t = WorkerScratch.SMALL;
            putTime(b, t, valid, FuseAbi.FATTR_ATIME, FuseAbi.FATTR_ATIME_NOW, rq.u64(SetattrIn.ATIME),
                    rq.u32(SetattrIn.ATIMENSEC));
            putTime(b, t + 16, valid, FuseAbi.FATTR_MTIME, FuseAbi.FATTR_MTIME_NOW, rq.u64(SetattrIn.MTIME),
                    rq.u32(SetattrIn.MTIMENSEC));
            int r;
            if (fh >= 0) {
                r = LibC.futimens(fh, s.small());
            } else if (symlink) {
                r = LibC.utimensat(ifd, s.empty(), s.small(), AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
            } else {
                r = LibC.utimensat(AT_FDCWD, s.procPath(ifd), s.small(), 0);
            }
            if (r < 0) {
                return LibC.errno();
            }
        }
        int err = stat(s, ifd);
        if (err != 0) {
            return err;
        }
        inode.mode = s.buf.getShort(WorkerScratch.STATX + 28) & 0xffff;
        putAttrOut(rp, s);
        return 0;
    }

    private static void putTime(ByteBuffer b, int off, int valid, int setBit, int nowBit, long sec, int nsec) {
        if ((valid & setBit) == 0) {
            b.putLong(off, 0).putLong(off + 8, UTIME_OMIT);
        } else if ((valid & nowBit) != 0) {
            b.putLong(off, 0).putLong(off + 8, UTIME_NOW);
        } else {
            b.putLong(off, sec).putLong(off + 8, nsec);
        }
    }

    /**
     * Clears set-user-ID and set-group-ID (with group execute) as a write by the caller would have
     * done: the daemon writes as root, which the backing filesystem would exempt.
     */
    private int killSuidSgid(WorkerScratch s, Inode inode) {
        int mode = inode.mode;
        if (!isRegular(mode)) {
            return 0;
        }
        int kill = mode & S_ISUID;
        if ((mode & S_ISGID) != 0 && (mode & S_IXGRP) != 0) {
            kill |= S_ISGID;
        }
        if (kill == 0) {
            return 0;
        }
        int newMode = mode & 07777 & ~kill;
        int fd = fdOf(s, inode);
        if (fd < 0) {
            return -fd;
        }
        if (LibC.fchmodat(AT_FDCWD, s.procPath(fd), newMode, 0) < 0) {
            return LibC.errno();
        }
        inode.mode = (mode & S_IFMT) | newMode;
        return 0;
    }

    @Override
    public int readlink(FuseRequest rq, FuseReply rp) {
        Inode inode = inodes.get(rq.nodeId());
        if (inode == null) {
            return Errno.ESTALE;
        }
        WorkerScratch s = scratch(rq);
        int ifd = fdOf(s, inode);
        if (ifd < 0) {
            return -ifd;
        }
        long n = LibC.readlinkat(ifd, s.empty(), rp.payloadAddress(), Math.min(rp.capacity(), 65536));
        if (n < 0) {
            return LibC.errno();
        }
        rp.payloadLength((int) n);
        return 0;
    }

    @Override
    public int symlink(FuseRequest rq, FuseReply rp) {
        Inode parent = inodes.get(rq.nodeId());
        if (parent == null) {
            return Errno.ESTALE;
        }
        if (rq.isDotOrDotDot(0)) {
            return Errno.EEXIST;
        }
        WorkerScratch s = scratch(rq);
        long name = rq.argAddress(0);
        long target = rq.argAddress(rq.stringLength(0) + 1);
        return makeNode(rq, rp, s, parent, name, NODE_SYMLINK, target, 0, 0);
    }

    @Override
    public int mknod(FuseRequest rq, FuseReply rp) {
        Inode parent = inodes.get(rq.nodeId());
        if (parent == null) {
            return Errno.ESTALE;
        }
        WorkerScratch s = scratch(rq);
        int nameOff = MknodIn.SIZE;
        if (rq.isDotOrDotDot(nameOff)) {
            return Errno.EEXIST;
        }
        long name = rq.argAddress(nameOff);
        int mode = rq.u32(MknodIn.MODE);
        int rdev = rq.u32(MknodIn.RDEV);
        // The kernel sends the 32-bit dev_t encoding (new_encode_dev); glibc's mknod wants its own.
        int major = (rdev >>> 8) & 0xfff;
        int minor = (rdev & 0xff) | ((rdev >>> 12) & 0xfff00);
        long dev = io.efuse.csi.sys.Statx.makedev(major, minor);
        return makeNode(rq, rp, s, parent, name, NODE_MKNOD, dev, mode, rq.u32(MknodIn.UMASK));
    }

    @Override
    public int mkdir(FuseRequest rq, FuseReply rp) {
        Inode parent = inodes.get(rq.nodeId());
        if (parent == null) {
            return Errno.ESTALE;
        }
        WorkerScratch s = scratch(rq);
        int nameOff = MkdirIn.SIZE;
        if (rq.isDotOrDotDot(nameOff)) {
            return Errno.EEXIST;
        }
        long name = rq.argAddress(nameOff);
        return makeNode(rq, rp, s, parent, name, NODE_MKDIR, 0, rq.u32(MkdirIn.MODE), rq.u32(MkdirIn.UMASK));
    }

    /**
     * The mode to create with, the caller's umask (which the kernel leaves to the daemon: FUSE_DONT_MASK) made
     * this thread's until {@link WorkerScratch#clearUmask}: the backing filesystem then applies it only where the
     * parent has no default ACL, and otherwise masks the mode with the default ACL, as for a native caller.
     * Without a umask of its own the thread applies it here, unless the parent has a default ACL.
     */
    private static int creationMode(WorkerScratch s, Inode parent, int mode, int umask) {
        if (s.useUmask(umask)) {
            return mode;
        }
        boolean inherits = parent.fd >= 0 && LibC.getxattr(s.procPath2(parent.fd),
                NativeMemory.address(ACL_DEFAULT_NAME), 0, 0) > 0;
        return inherits ? mode : mode & ~(umask & 0777);
    }

    private static final int NODE_SYMLINK = 0;
    private static final int NODE_MKNOD = 1;
    private static final int NODE_MKDIR = 2;

    /**
     * Creates name in parent as the caller, charged against the inode limit, and answers its entry:
     * a symlink to the C string at arg, a device/fifo/socket with dev_t arg, or a directory (mode and the
     * caller's umask for the last two).
     */
    private int makeNode(FuseRequest rq, FuseReply rp, WorkerScratch s, Inode parent, long name, int kind, long arg,
            int mode, int umask) {
        if (!chargeInode()) {
            return Errno.EDQUOT;
        }
        if (kind != NODE_SYMLINK) {
            mode = creationMode(s, parent, mode, umask);
        }
        boolean as = s.credentials.become(rq.uid(), rq.gid());
        int r = switch (kind) {
            case NODE_SYMLINK -> LibC.symlinkat(arg, parent.fd, name);
            case NODE_MKNOD -> LibC.mknodat(parent.fd, name, mode, arg);
            default -> LibC.mkdirat(parent.fd, name, mode);
        };
        int err = r < 0 ? LibC.errno() : 0;
        if (as) {
            s.credentials.restore();
        }
        s.clearUmask();
        if (err != 0) {
            refundInode();
            return err;
        }
        return lookupName(s, parent, name, rp, 0);
    }

    @Override
    public int unlink(FuseRequest rq, FuseReply rp) {
        return remove(rq, 0);
    }

    @Override
    public int rmdir(FuseRequest rq, FuseReply rp) {
        return remove(rq, AT_REMOVEDIR);
    }

    private int remove(FuseRequest rq, int flags) {
        Inode parent = inodes.get(rq.nodeId());
        if (parent == null) {
            return Errno.ESTALE;
        }
        if (rq.isDotOrDotDot(0)) {
            return flags == AT_REMOVEDIR ? Errno.EINVAL : Errno.EISDIR;
        }
        long name = rq.argAddress(0);
        long[] removed = account == null ? null : removalOf(scratch(rq), parent, name);
        if (LibC.unlinkat(parent.fd, name, flags) < 0) {
            return LibC.errno();
        }
        release(removed);
        return 0;
    }

    @Override
    public int rename(FuseRequest rq, FuseReply rp, long newDir, int flags, int namesOffset) {
        Inode from = inodes.get(rq.nodeId());
        Inode to = inodes.get(newDir);
        if (from == null || to == null) {
            return Errno.ESTALE;
        }
        int newNameOff = namesOffset + rq.stringLength(namesOffset) + 1;
        if (rq.isDotOrDotDot(namesOffset) || rq.isDotOrDotDot(newNameOff)) {
            return Errno.EBUSY;
        }
        if ((flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT)) != 0) {
            return Errno.EINVAL;
        }
        long[] replaced = account == null || (flags & (RENAME_EXCHANGE | RENAME_NOREPLACE)) != 0 ? null
                : removalOf(scratch(rq), to, rq.argAddress(newNameOff));
        int r = LibC.renameat2(from.fd, rq.argAddress(namesOffset), to.fd, rq.argAddress(newNameOff), flags);
        if (r < 0) {
            return LibC.errno();
        }
        release(replaced);
        return 0;
    }

    @Override
    public int link(FuseRequest rq, FuseReply rp) {
        Inode target = inodes.get(rq.u64(LinkIn.OLDNODEID));
        Inode parent = inodes.get(rq.nodeId());
        if (target == null || parent == null) {
            return Errno.ESTALE;
        }
        int nameOff = LinkIn.SIZE;
        if (rq.isDotOrDotDot(nameOff)) {
            return Errno.EEXIST;
        }
        WorkerScratch s = scratch(rq);
        long name = rq.argAddress(nameOff);
        int tfd = fdOf(s, target);
        if (tfd < 0) {
            return -tfd;
        }
        if (LibC.linkat(tfd, s.empty(), parent.fd, name, AT_EMPTY_PATH) < 0) {
            return LibC.errno();
        }
        return lookupName(s, parent, name, rp, 0);
    }

    // ---- files ----

    /**
     * fh layout: bits 0-23 the backing file descriptor, 24-54 the passthrough backing id + 1 (0: none),
     * 55 {@link #DAEMON_PATH}, 56-63 the daemon incarnation that opened it (0 when the volume is not recoverable). A handle from
     * an earlier incarnation names a descriptor of a dead process: {@link VolumeState} opens the file again.
     */
    private int fileFd(long nodeId, long fh) {
        VolumeState st = state;
        if (st == null || (int) (fh >>> 56) == epoch) {
            return (int) (fh & FD_MASK);
        }
        return st.fdOf(nodeId, fh, this);
    }

    private static final long FD_MASK = 0xffffff;

    static int backingIdOf(long fh) {
        return (int) ((fh >>> 24) & 0x7fffffffL) - 1;
    }

    /** Set in the fh of a regular file opened on the daemon's path (see Inode.daemonOpens). */
    static final long DAEMON_PATH = 1L << 55;

    private long fhOf(int fd, int backingId) {
        return ((long) epoch << 56) | ((long) (backingId + 1) << 24) | (fd & FD_MASK);
    }

    /** Releases an open file: its record goes before its descriptor, so a reused fd number is logged after. */
    private void closeFile(long nodeId, long fh) {
        VolumeState st = state;
        if (st == null) {
            LibC.close((int) (fh & FD_MASK));
        } else if ((int) (fh >>> 56) == epoch) {
            st.closed(fh);
            LibC.close((int) (fh & FD_MASK));
        } else {
            st.closeEarlier(fh);
        }
    }

    /** Opens the file of a node again for an open file handle of an earlier daemon; -1 with errno set. */
    int reopenFile(long nodeId, int flags) {
        Inode inode = inodes.get(nodeId);
        if (inode == null) {
            return -1;
        }
        WorkerScratch s = new WorkerScratch();
        int f = isDir(inode.mode) ? O_RDONLY | O_DIRECTORY | O_CLOEXEC
                : openFlagsFor(flags & ~(O_TRUNC | O_APPEND | O_CREAT | O_EXCL));
        int pathFd = fdOf(s, inode);
        if (pathFd < 0) {
            return -1;
        }
        try {
            return LibC.open(s.procPath(pathFd), f, 0);
        } finally {
            s.closeTemporary();
        }
    }

    /** Makes this filesystem record its state in st and serve handles of earlier incarnations through it. */
    void recoverable(VolumeState st) {
        this.epoch = st.epoch();
        this.state = st;
        inodes.listener(st);
    }

    InodeTable inodes() {
        return inodes;
    }

    /** The entry of name (a C string at nameAddress) in directory parent, into rp at 0; 0 or an errno. */
    int entryOf(long parent, long nameAddress, FuseReply rp) {
        Inode p = inodes.get(parent);
        if (p == null) {
            return Errno.ESTALE;
        }
        return lookupName(new WorkerScratch(), p, nameAddress, rp, 0);
    }

    /** {ino, ctime in ms} of name in directory parent, or null if it does not exist. */
    long[] identityOf(long parent, long nameAddress) {
        Inode p = inodes.get(parent);
        if (p == null) {
            return null;
        }
        int fd = LibC.openat(p.fd, nameAddress, PATH_FLAGS, 0);
        if (fd < 0) {
            return null;
        }
        WorkerScratch s = new WorkerScratch();
        int err = stat(s, fd);
        LibC.close(fd);
        if (err != 0) {
            return null;
        }
        ByteBuffer sx = s.buf;
        long ctimeMs = sx.getLong(WorkerScratch.STATX + 96) * 1000 + sx.getInt(WorkerScratch.STATX + 104) / 1_000_000;
        return new long[] {sx.getLong(WorkerScratch.STATX + 32), ctimeMs};
    }

    /** The node id the kernel knows for name in parent, or 0 if it knows none (or there is no such name). */
    long nodeIdNamed(FuseRequest rq, long parent, long nameAddress) {
        Inode p = inodes.get(parent);
        if (p == null || p.fd < 0) {
            return 0;
        }
        int fd = LibC.openat(p.fd, nameAddress, PATH_FLAGS, 0);
        if (fd < 0) {
            return 0;
        }
        WorkerScratch s = scratch(rq);
        int r = LibC.statx(fd, s.empty(), STATX_FLAGS, STATX_BASIC_STATS, s.statx2());
        LibC.close(fd);
        if (r < 0) {
            return 0;
        }
        ByteBuffer sx = s.buf;
        long dev = ((long) sx.getInt(WorkerScratch.STATX2 + 136) << 32)
                | (sx.getInt(WorkerScratch.STATX2 + 140) & 0xffffffffL);
        Inode n = inodes.find(dev, sx.getLong(WorkerScratch.STATX2 + 32));
        return n == null ? 0 : n.nodeId;
    }

    private int openFlagsFor(int flags) {
        // O_DIRECT is applied to the backing descriptor only if it goes passthrough (putOpenOut): the
        // daemon's own reads land at an unaligned offset of its reply buffer.
        int f = flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_DIRECT);
        if (writeback) {
            // The kernel reads pages to fill partial writes and appends itself: the daemon's fd must be
            // readable and must not append on its own.
            if ((f & O_ACCMODE) == O_WRONLY) {
                f = (f & ~O_ACCMODE) | O_RDWR;
            }
            f &= ~O_APPEND;
        }
        return f | O_CLOEXEC;
    }

    /** Fills fuse_open_out at off for the open file fd, registering it for passthrough when possible. */
    private void putOpenOut(FuseReply rp, int off, int fd, Inode inode, int flags) {
        int openFlags = 0;
        int backingId = -1;
        // Writes through passthrough run with the daemon's credentials, which the backing filesystem exempts
        // from clearing set-id bits: set-id files stay on the daemon's path.
        boolean setId = (inode.mode & (S_ISUID | S_ISGID)) != 0;
        boolean direct = (flags & O_DIRECT) != 0;
        boolean daemonWrites = false;
        boolean passthroughWriter = false;
        if (passthrough && isRegular(inode.mode) && !setId) {
            boolean writer = (flags & O_ACCMODE) != O_RDONLY;
            int id;
            if (account == null || account.maxBytes() <= 0 || !writer) {
                // Reads allocate nothing, so a reader of a volume whose size the daemon enforces may bypass it.
                id = acquireBacking(inode, fd, direct);
            } else {
                // Writers must be charged, so their reads and writes go through the daemon. The kernel keeps an
                // inode in one io mode: while readers hold it in passthrough, a writer joins their backing file
                // with FOPEN_DIRECT_IO (read and write to the daemon, mmap on the backing file).
                id = joinBacking(inode);
                daemonWrites = id >= 0;
            }
            if (id >= 0) {
                backingId = id;
                openFlags |= FuseAbi.FOPEN_PASSTHROUGH | (daemonWrites ? FuseAbi.FOPEN_DIRECT_IO : 0);
                passthroughOpen.incrementAndGet();
                passthroughOpenedTotal.incrementAndGet();
                passthroughWriter = writer && !daemonWrites;
            } else if (id != NOT_NOW && !passthroughFailureLogged) {
                passthroughFailureLogged = true;
                LOG.warn("passthrough open refused by the kernel (" + Errno.name(-id)
                        + "); file data goes through the daemon");
            }
        } else if (isRegular(inode.mode)) {
            // The tier was changed to classic while passthrough opens of this inode from before hold it in
            // passthrough mode, where the kernel refuses a cached open: this one joins their backing file with
            // FOPEN_DIRECT_IO, so that its reads and writes still come to the daemon.
            int id = joinBacking(inode);
            if (id >= 0) {
                backingId = id;
                openFlags |= FuseAbi.FOPEN_PASSTHROUGH | FuseAbi.FOPEN_DIRECT_IO;
                passthroughOpen.incrementAndGet();
            }
        }
        boolean daemonPath = backingId < 0 && isRegular(inode.mode);
        if (backingId < 0 && direct) {
            // The caller asked to bypass caches: the kernel sends every read and write of this handle.
            openFlags |= FuseAbi.FOPEN_DIRECT_IO;
        } else if (backingId < 0) {
            // The daemon is the only writer of the backing tree, so cached pages stay valid across opens;
            // changes made behind the mount are announced with EfuseMount.invalidate. Pages cached before the
            // inode last went through passthrough are not: the kernel drops them when this open does not keep
            // them.
            if (!inode.cacheStale || !clearStale(inode)) {
                openFlags |= FuseAbi.FOPEN_KEEP_CACHE;
            }
        }
        if (daemonPath) {
            synchronized (inode) {
                inode.daemonOpens++;
            }
        }
        if (!writeback) {
            // Writes reach the backing file before write(2) returns, so close has nothing to flush.
            openFlags |= FuseAbi.FOPEN_NOFLUSH;
        }
        long fh = fhOf(fd, backingId) | (daemonPath ? DAEMON_PATH : 0);
        if (passthroughWriter) {
            passthroughWriters.add(fh);
        }
        VolumeState st = state;
        if (st != null) {
            st.opened(fh, inode.nodeId, flags);
        }
        rp.putU64(off + OpenOut.FH, fh);
        rp.putU32(off + OpenOut.OPEN_FLAGS, openFlags);
        rp.putU32(off + OpenOut.BACKING_ID, backingId < 0 ? 0 : backingId);
    }

    /** A passthrough open not tried because the inode's io mode excludes it (not the kernel refusing it). */
    private static final int NOT_NOW = Integer.MIN_VALUE;

    private static boolean clearStale(Inode inode) {
        synchronized (inode) {
            boolean was = inode.cacheStale;
            inode.cacheStale = false;
            return was;
        }
    }

    /**
     * The passthrough backing id for an open of inode. The kernel accepts only one backing file per
     * inode at a time (another one fails the open with EIO), so all open files of a node share the id
     * registered by the first; it is closed when the last of them is released. Only while no open of the
     * inode is on the daemon's path (NOT_NOW otherwise), since the kernel fails a passthrough open of an inode
     * in cached io mode. A direct open gets O_DIRECT on its descriptor (which the daemon's own reads never
     * have), dropped again if the open stays on the daemon's path.
     */
    private int acquireBacking(Inode inode, int fd, boolean direct) {
        if (direct && LibC.fcntl(fd, F_SETFL, (LibC.fcntl(fd, F_GETFL, 0) | O_DIRECT)) != 0) {
            return NOT_NOW;
        }
        int id;
        synchronized (inode) {
            id = inode.daemonOpens > 0 ? NOT_NOW : acquireBackingLocked(inode, fd);
        }
        if (id < 0 && direct) {
            LibC.fcntl(fd, F_SETFL, LibC.fcntl(fd, F_GETFL, 0) & ~O_DIRECT);
        }
        return id;
    }

    /** The backing id the inode's passthrough opens share, one more open of it; NOT_NOW if it has none. */
    private int joinBacking(Inode inode) {
        synchronized (inode) {
            if (inode.backingOpens > 0) {
                inode.backingOpens++;
                return inode.backingId;
            }
            return NOT_NOW;
        }
    }

    private int acquireBackingLocked(Inode inode, int fd) {
        inode.cacheStale = true;
        if (inode.backingOpens > 0) {
            inode.backingOpens++;
            return inode.backingId;
        }
        int id = connection.openBacking(fd);
        if (id >= 0) {
            inode.backingId = id;
            inode.backingOpens = 1;
        }
        return id;
    }

    private void releaseBacking(Inode inode, int backingId) {
        if (inode == null) {
            connection.closeBacking(backingId);
            return;
        }
        synchronized (inode) {
            if (inode.backingId == backingId && --inode.backingOpens == 0) {
                inode.backingId = -1;
                connection.closeBacking(backingId);
            }
        }
    }

    @Override
    public int open(FuseRequest rq, FuseReply rp) {
        Inode inode = inodes.get(rq.nodeId());
        if (inode == null) {
            return Errno.ESTALE;
        }
        if (isSymlink(inode.mode)) {
            return Errno.ELOOP;
        }
        WorkerScratch s = scratch(rq);
        int ifd = fdOf(s, inode);
        if (ifd < 0) {
            return -ifd;
        }
        int flags = rq.u32(OpenIn.FLAGS);
        int fd;
        if (account != null && (flags & O_TRUNC) != 0) {
            // The kernel leaves O_TRUNC to the open (ATOMIC_O_TRUNC): the blocks it frees come back here.
            var lock = account.lockFor(rq.nodeId());
            lock.lock();
            try {
                long before = allocatedOf(s, ifd);
                fd = LibC.open(s.procPath(ifd), openFlagsFor(flags), 0);
                int err = LibC.errno();
                if (fd < 0) {
                    return err;
                }
                settle(s, ifd, 0, before);
            } finally {
                lock.unlock();
            }
        } else {
            fd = LibC.open(s.procPath(ifd), openFlagsFor(flags), 0);
            if (fd < 0) {
                return LibC.errno();
            }
        }
        if ((rq.u32(OpenIn.OPEN_FLAGS) & FuseAbi.OPEN_KILL_SUIDGID) != 0) {
            killSuidSgid(s, inode);
        }
        putOpenOut(rp, 0, fd, inode, flags);
        rp.payloadLength(OpenOut.SIZE);
        return 0;
    }

    /** How long a create that finds the kernel's quota full waits for just-removed files to give their space back. */
    private static final int FREED_SPACE_RETRIES = 10;
    private static final long FREED_SPACE_WAIT_NANOS = 20_000_000L;

    @Override
    public int create(FuseRequest rq, FuseReply rp) {
        Inode parent = inodes.get(rq.nodeId());
        if (parent == null) {
            return Errno.ESTALE;
        }
        int nameOff = CreateIn.SIZE;
        if (rq.isDotOrDotDot(nameOff)) {
            return Errno.EISDIR;
        }
        WorkerScratch s = scratch(rq);
        long name = rq.argAddress(nameOff);
        int flags = rq.u32(CreateIn.FLAGS);
        // CREATE also opens existing files (without O_EXCL); only a new file costs an inode.
        boolean charged = false;
        long truncated = -1;
        if (account != null) {
            int probe = LibC.openat(parent.fd, name, PATH_FLAGS, 0);
            if (probe >= 0) {
                if ((flags & (O_TRUNC | O_EXCL)) == O_TRUNC) {
                    truncated = allocatedOf(s, probe);
                }
                LibC.close(probe);
            } else if (!chargeInode()) {
                return Errno.EDQUOT;
            } else {
                charged = true;
            }
        }
        int mode = creationMode(s, parent, rq.u32(CreateIn.MODE), rq.u32(CreateIn.UMASK));
        boolean as = s.credentials.become(rq.uid(), rq.gid());
        int fd = LibC.openat(parent.fd, name, openFlagsFor(flags) | O_CREAT | (flags & O_EXCL) | O_NOFOLLOW, mode);
        int err = fd < 0 ? LibC.errno() : 0;
        for (int retry = 0; err == Errno.EDQUOT && account == null && retry < FREED_SPACE_RETRIES; retry++) {
            // The kernel enforces this volume's size (btrfs quota groups): a file just removed through the mount
            // still holds its space until the kernel's FORGET of it reaches this daemon and its last descriptor
            // here closes. The other workers do that within milliseconds; a create that raced it waits for it.
            java.util.concurrent.locks.LockSupport.parkNanos(FREED_SPACE_WAIT_NANOS);
            fd = LibC.openat(parent.fd, name, openFlagsFor(flags) | O_CREAT | (flags & O_EXCL) | O_NOFOLLOW, mode);
            err = fd < 0 ? LibC.errno() : 0;
        }
        if (as) {
            s.credentials.restore();
        }
        s.clearUmask();
        if (err != 0) {
            if (charged) {
                refundInode();
            }
            return err;
        }
        if (truncated >= 0) {
            settle(s, fd, 0, truncated);
        }
        int pathFd = LibC.openat(parent.fd, name, PATH_FLAGS, 0);
        if (pathFd < 0) {
            err = LibC.errno();
            LibC.close(fd);
            return err;
        }
        err = entry(s, rp, 0, pathFd);
        if (err != 0) {
            LibC.close(fd);
            return err;
        }
        Inode inode = inodes.get(rp.getU64(EntryOut.NODEID));
        putOpenOut(rp, EntryOut.SIZE, fd, inode, flags);
        rp.payloadLength(EntryOut.SIZE + OpenOut.SIZE);
        return 0;
    }

    @Override
    public int tmpfile(FuseRequest rq, FuseReply rp) {
        Inode parent = inodes.get(rq.nodeId());
        if (parent == null) {
            return Errno.ESTALE;
        }
        WorkerScratch s = scratch(rq);
        int flags = rq.u32(CreateIn.FLAGS);
        s.buf.put(WorkerScratch.SMALL, (byte) '.').put(WorkerScratch.SMALL + 1, (byte) 0);
        int mode = creationMode(s, parent, rq.u32(CreateIn.MODE), rq.u32(CreateIn.UMASK));
        boolean as = s.credentials.become(rq.uid(), rq.gid());
        int fd = LibC.openat(parent.fd, s.small(), (openFlagsFor(flags) & ~O_CREAT) | O_TMPFILE, mode);
        int err = fd < 0 ? LibC.errno() : 0;
        if (as) {
            s.credentials.restore();
        }
        s.clearUmask();
        if (err != 0) {
            return err;
        }
        int pathFd = LibC.open(s.procPath(fd), PATH_FLAGS & ~O_NOFOLLOW, 0);
        if (pathFd < 0) {
            err = LibC.errno();
            LibC.close(fd);
            return err;
        }
        err = entry(s, rp, 0, pathFd);
        if (err != 0) {
            LibC.close(fd);
            return err;
        }
        Inode inode = inodes.get(rp.getU64(EntryOut.NODEID));
        putOpenOut(rp, EntryOut.SIZE, fd, inode, flags);
        rp.payloadLength(EntryOut.SIZE + OpenOut.SIZE);
        return 0;
    }

    @Override
    public int read(FuseRequest rq, FuseReply rp) {
        int fd = fileFd(rq.nodeId(), rq.u64(ReadIn.FH));
        int size = Math.min(rq.u32(ReadIn.SIZE_), rp.capacity());
        long n = LibC.pread(fd, rp.payloadAddress(), size, rq.u64(ReadIn.OFFSET));
        if (n < 0) {
            return LibC.errno();
        }
        rp.payloadLength((int) n);
        return 0;
    }

    @Override
    public int write(FuseRequest rq, FuseReply rp) {
        int fd = fileFd(rq.nodeId(), rq.u64(WriteIn.FH));
        int size = rq.u32(WriteIn.SIZE_);
        if (size > rq.argLength() - WriteIn.SIZE) {
            return Errno.EINVAL;
        }
        if ((rq.u32(WriteIn.WRITE_FLAGS) & FuseAbi.WRITE_KILL_SUIDGID) != 0) {
            Inode inode = inodes.get(rq.nodeId());
            if (inode != null && (inode.mode & (S_ISUID | S_ISGID)) != 0) {
                killSuidSgid(scratch(rq), inode);
            }
        }
        long offset = rq.u64(WriteIn.OFFSET);
        long n = account == null ? LibC.pwrite(fd, rq.argAddress(WriteIn.SIZE), size, offset)
                : chargedWrite(rq, fd, size, offset);
        if (n < 0) {
            return account == null ? LibC.errno() : (int) -n;
        }
        rp.putU32(WriteOut.SIZE_, (int) n);
        rp.putU32(WriteOut.PADDING, 0);
        rp.payloadLength(WriteOut.SIZE);
        return 0;
    }

    /**
     * A write on a volume whose size the daemon enforces: reserves the blocks it may allocate, writes, and
     * settles to what it allocated. An overwrite inside a file without holes may allocate nothing, and runs
     * without the file's lock once measured. Returns the bytes written or -errno.
     */
    private long chargedWrite(FuseRequest rq, int fd, int size, long offset) {
        WorkerScratch s = scratch(rq);
        var lock = account.lockFor(rq.nodeId());
        lock.lock();
        boolean locked = true;
        try {
            long before = allocatedOf(s, fd);
            long reserved = reserve(s, before, offset, offset + size);
            if (reserved < 0) {
                return -Errno.EDQUOT;
            }
            if (reserved == 0) {
                lock.unlock();
                locked = false;
            }
            long n = LibC.pwrite(fd, rq.argAddress(WriteIn.SIZE), size, offset);
            n = n < 0 ? -LibC.errno() : n;
            if (locked) {
                settle(s, fd, reserved, before);
            }
            return n;
        } finally {
            if (locked) {
                lock.unlock();
            }
        }
    }

    @Override
    public int flush(FuseRequest rq, FuseReply rp) {
        // Data is already in the backing file (no daemon-side buffering); nothing to push on close.
        return 0;
    }

    @Override
    public int release(FuseRequest rq, FuseReply rp) {
        long fh = rq.u64(ReleaseIn.FH);
        int backingId = backingIdOf(fh);
        if (backingId >= 0) {
            releaseBacking(inodes.get(rq.nodeId()), backingId);
            passthroughOpen.decrementAndGet();
            passthroughWriters.remove(fh);
        } else if ((fh & DAEMON_PATH) != 0) {
            Inode inode = inodes.get(rq.nodeId());
            if (inode != null) {
                synchronized (inode) {
                    inode.daemonOpens = Math.max(0, inode.daemonOpens - 1);
                }
            }
        }
        closeFile(rq.nodeId(), fh);
        return 0;
    }

    @Override
    public int fsync(FuseRequest rq, FuseReply rp) {
        int fd = fileFd(rq.nodeId(), rq.u64(FsyncIn.FH));
        boolean data = (rq.u32(FsyncIn.FSYNC_FLAGS) & FuseAbi.FSYNC_FDATASYNC) != 0;
        return (data ? LibC.fdatasync(fd) : LibC.fsync(fd)) < 0 ? LibC.errno() : 0;
    }

    @Override
    public int fallocate(FuseRequest rq, FuseReply rp) {
        int fd = fileFd(rq.nodeId(), rq.u64(FallocateIn.FH));
        int mode = rq.u32(FallocateIn.MODE);
        long offset = rq.u64(FallocateIn.OFFSET);
        long length = rq.u64(FallocateIn.LENGTH);
        SpaceAccount a = account;
        if (a == null || offset < 0 || length <= 0 || offset + length < 0 || offset + length > a.maxFileSize()) {
            // Out of range: the backing filesystem's own answer (EINVAL, EFBIG) is the one a filesystem gives.
            return LibC.fallocate(fd, mode, offset, length) < 0 ? LibC.errno() : 0;
        }
        WorkerScratch s = scratch(rq);
        var lock = a.lockFor(rq.nodeId());
        lock.lock();
        try {
            long before = allocatedOf(s, fd);
            // Punching, collapsing and inserting move or free blocks without allocating data; the rest
            // (plain, KEEP_SIZE, ZERO_RANGE, UNSHARE_RANGE, WRITE_ZEROES) may allocate the whole range.
            boolean allocates = (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_INSERT_RANGE)) == 0;
            long reserved = allocates ? reserve(s, before, offset, offset + length) : 0;
            if (reserved < 0) {
                return Errno.EDQUOT;
            }
            int r = LibC.fallocate(fd, mode, offset, length);
            int err = r < 0 ? LibC.errno() : 0;
            settle(s, fd, reserved, before);
            return err;
        } finally {
            lock.unlock();
        }
    }

    private static final int FALLOC_FL_PUNCH_HOLE = 0x02;
    private static final int FALLOC_FL_COLLAPSE_RANGE = 0x08;
    private static final int FALLOC_FL_INSERT_RANGE = 0x20;

    @Override
    public int lseek(FuseRequest rq, FuseReply rp) {
        long r = LibC.lseek(fileFd(rq.nodeId(), rq.u64(LseekIn.FH)), rq.u64(LseekIn.OFFSET), rq.u32(LseekIn.WHENCE));
        if (r < 0) {
            return LibC.errno();
        }
        rp.putU64(LseekOut.OFFSET, r);
        rp.payloadLength(LseekOut.SIZE);
        return 0;
    }

    @Override
    public int copyFileRange(FuseRequest rq, FuseReply rp) {
        WorkerScratch s = scratch(rq);
        s.buf.putLong(WorkerScratch.SMALL, rq.u64(CopyFileRangeIn.OFF_IN));
        s.buf.putLong(WorkerScratch.SMALL + 8, rq.u64(CopyFileRangeIn.OFF_OUT));
        long len = Math.min(rq.u64(CopyFileRangeIn.LEN), Integer.MAX_VALUE & ~4095L);
        int out = fileFd(rq.u64(CopyFileRangeIn.NODEID_OUT), rq.u64(CopyFileRangeIn.FH_OUT));
        long offOut = rq.u64(CopyFileRangeIn.OFF_OUT);
        int in = fileFd(rq.nodeId(), rq.u64(CopyFileRangeIn.FH_IN));
        int flags = (int) rq.u64(CopyFileRangeIn.FLAGS);
        long n;
        SpaceAccount a = account;
        if (a == null) {
            n = LibC.copy_file_range(in, s.small(), out, s.small() + 8, len, flags);
        } else {
            // Nothing is copied past the source's end: only what is there can be allocated (a reflink, nothing).
            if (stat(s, in) == 0) {
                len = Math.max(0, Math.min(len, s.buf.getLong(WorkerScratch.STATX + 40) - rq.u64(CopyFileRangeIn.OFF_IN)));
            }
            var lock = a.lockFor(rq.u64(CopyFileRangeIn.NODEID_OUT));
            lock.lock();
            try {
                long before = allocatedOf(s, out);
                long reserved = reserve(s, before, offOut, offOut + len);
                if (reserved < 0) {
                    return Errno.EDQUOT;
                }
                n = LibC.copy_file_range(in, s.small(), out, s.small() + 8, len, flags);
                int err = LibC.errno();
                settle(s, out, reserved, before);
                if (n < 0) {
                    return err;
                }
            } finally {
                lock.unlock();
            }
        }
        if (n < 0) {
            return LibC.errno();
        }
        rp.putU32(WriteOut.SIZE_, (int) n);
        rp.putU32(WriteOut.PADDING, 0);
        rp.payloadLength(WriteOut.SIZE);
        return 0;
    }

    /** The bytes used read from the usage file (at most 63 characters of a decimal number); -1 if unreadable. */
    private long usageShown(WorkerScratch s) {
        ByteBuffer path = usagePath;
        if (path == null) {
            return -1;
        }
        int fd = LibC.open(NativeMemory.address(path), O_RDONLY | O_CLOEXEC, 0);
        if (fd < 0) {
            return -1;
        }
        long n = LibC.pread(fd, s.statx2(), 63, 0);
        LibC.close(fd);
        long v = 0;
        int digits = 0;
        for (int i = 0; i < n; i++) {
            byte c = s.buf.get(WorkerScratch.STATX2 + i);
            if (c >= '0' && c <= '9' && v <= (Long.MAX_VALUE - 9) / 10) {
                v = v * 10 + (c - '0');
                digits++;
            } else if (c == '\n' || c == ' ') {
                if (digits > 0) {
                    break;
                }
            } else {
                return -1;
            }
        }
        return digits > 0 ? v : -1;
    }

    @Override
    public int statfs(FuseRequest rq, FuseReply rp) {
        Inode root = inodes.get(1);
        WorkerScratch s = scratch(rq);
        if (LibC.fstatfs(root.fd, s.statx()) < 0) {
            return LibC.errno();
        }
        ByteBuffer b = s.buf;
        int base = WorkerScratch.STATX;
        // struct statfs (x86_64): type, bsize, blocks, bfree, bavail, files, ffree, fsid, namelen, frsize
        long bsize = b.getLong(base + 8);
        long blocks = b.getLong(base + 16);
        long bfree = b.getLong(base + 24);
        long bavail = b.getLong(base + 32);
        long files = b.getLong(base + 40);
        long ffree = b.getLong(base + 48);
        long namelen = b.getLong(base + 64);
        long frsize = b.getLong(base + 72);
        if (account != null && account.maxBytes() > 0 && bsize > 0) {
            // df inside the volume shows the volume's size, bounded by what the disk really has left.
            long limitBlocks = account.maxBytes() / bsize;
            long left = Math.max(0, account.maxBytes() - account.usedBytes()) / bsize;
            blocks = limitBlocks;
            bfree = Math.min(left, bfree);
            bavail = Math.min(left, bavail);
        } else if (shownBytes > 0 && bsize > 0) {
            // Something else enforces the size (btrfs qgroups): df shows it with the usage that engine reports.
            long shownNow = shownBytes;
            long shown = shownNow / bsize;
            long used = usageShown(s);
            long left = used < 0 ? shown : Math.max(0, shownNow - used) / bsize;
            blocks = shown;
            bfree = Math.min(left, bfree);
            bavail = Math.min(left, bavail);
        }
        if (account != null && account.maxInodes() > 0) {
            files = account.maxInodes();
            ffree = Math.min(ffree, Math.max(0, account.maxInodes() - account.usedInodes()));
        }
        rp.zero(0, Kstatfs.SIZE);
        rp.putU64(Kstatfs.BLOCKS, blocks);
        rp.putU64(Kstatfs.BFREE, bfree);
        rp.putU64(Kstatfs.BAVAIL, bavail);
        rp.putU64(Kstatfs.FILES, files);
        rp.putU64(Kstatfs.FFREE, ffree);
        rp.putU32(Kstatfs.BSIZE, (int) bsize);
        rp.putU32(Kstatfs.NAMELEN, (int) namelen);
        rp.putU32(Kstatfs.FRSIZE, (int) frsize);
        rp.payloadLength(Kstatfs.SIZE);
        return 0;
    }

    // ---- extended attributes ----
    // Reached through /proc/self/fd/N of the node's O_PATH descriptor: the magic link resolves to the
    // node itself and is not followed further, so symlinks' own attributes are read and written too.

    @Override
    public int setxattr(FuseRequest rq, FuseReply rp) {
        Inode inode = inodes.get(rq.nodeId());
        if (inode == null) {
            return Errno.ESTALE;
        }
        WorkerScratch s = scratch(rq);
        int ifd = fdOf(s, inode);
        if (ifd < 0) {
            return -ifd;
        }
        int base = setxattrExt ? SetxattrIn.SIZE : SetxattrIn.COMPAT_SIZE;
        int size = rq.u32(SetxattrIn.SIZE_);
        int nameLen = rq.stringLength(base);
        if (base + nameLen + 1 + (long) size > rq.argLength()) {
            return Errno.EINVAL;
        }
        int r = LibC.setxattr(s.procPath(ifd), rq.argAddress(base), rq.argAddress(base + nameLen + 1), size,
                rq.u32(SetxattrIn.FLAGS));
        if (r < 0) {
            return LibC.errno();
        }
        if (rq.stringEquals(base, ACL_ACCESS)) {
            // The backing filesystem has set the mode from the ACL, as the daemon, which may keep set-group-ID;
            // the kernel says when the caller may not (not in the group, no CAP_FSETID).
            boolean killSgid = setxattrExt && (rq.u32(SetxattrIn.SETXATTR_FLAGS) & FuseAbi.SETXATTR_ACL_KILL_SGID) != 0;
            return aclChangedMode(s, inode, ifd, killSgid);
        }
        return 0;
    }

    /** After a new access ACL: the node's mode as the backing file now has it, set-group-ID dropped if asked. */
    private int aclChangedMode(WorkerScratch s, Inode inode, int ifd, boolean killSgid) {
        int err = stat(s, ifd);
        if (err != 0) {
            return err;
        }
        int mode = s.buf.getShort(WorkerScratch.STATX + 28) & 0xffff;
        if (killSgid && (mode & S_ISGID) != 0) {
            mode &= ~S_ISGID;
            if (LibC.fchmodat(AT_FDCWD, s.procPath(ifd), mode & 07777, 0) < 0) {
                return LibC.errno();
            }
        }
        inode.mode = mode;
        return 0;
    }

    @Override
    public int getxattr(FuseRequest rq, FuseReply rp) {
        Inode inode = inodes.get(rq.nodeId());
        if (inode == null) {
            return Errno.ESTALE;
        }
        WorkerScratch s = scratch(rq);
        int ifd = fdOf(s, inode);
        if (ifd < 0) {
            return -ifd;
        }
        int size = rq.u32(GetxattrIn.SIZE_);
        long path = s.procPath(ifd);
        long name = rq.argAddress(GetxattrIn.SIZE);
        if (size == 0) {
            long n = LibC.getxattr(path, name, 0, 0);
            if (n < 0) {
                return getxattrError(rq, LibC.errno());
            }
            rp.putU32(GetxattrOut.SIZE_, (int) n);
            rp.putU32(GetxattrOut.PADDING, 0);
            rp.payloadLength(GetxattrOut.SIZE);
            return 0;
        }
        long n = LibC.getxattr(path, name, rp.payloadAddress(), Math.min(size, rp.capacity()));
        if (n < 0) {
            return getxattrError(rq, LibC.errno());
        }
        rp.payloadLength((int) n);
        return 0;
    }

    /**
     * The kernel fetches ACLs to check permissions and fails the check with any error but ENODATA: a file on a
     * backing filesystem without ACLs (one mounted inside the backing tree) has none rather than failing.
     */
    private int getxattrError(FuseRequest rq, int err) {
        if (err == ENOTSUP && posixAcl
                && (rq.stringEquals(GetxattrIn.SIZE, ACL_ACCESS) || rq.stringEquals(GetxattrIn.SIZE, ACL_DEFAULT))) {
            return Errno.ENODATA;
        }
        return err;
    }

    @Override
    public int listxattr(FuseRequest rq, FuseReply rp) {
        Inode inode = inodes.get(rq.nodeId());
        if (inode == null) {
            return Errno.ESTALE;
        }
        WorkerScratch s = scratch(rq);
        int ifd = fdOf(s, inode);
        if (ifd < 0) {
            return -ifd;
        }
        int size = rq.u32(GetxattrIn.SIZE_);
        long path = s.procPath(ifd);
        if (size == 0) {
            long n = LibC.listxattr(path, 0, 0);
            if (n < 0) {
                return LibC.errno();
            }
            rp.putU32(GetxattrOut.SIZE_, (int) n);
            rp.putU32(GetxattrOut.PADDING, 0);
            rp.payloadLength(GetxattrOut.SIZE);
            return 0;
        }
        long n = LibC.listxattr(path, rp.payloadAddress(), Math.min(size, rp.capacity()));
        if (n < 0) {
            return LibC.errno();
        }
        rp.payloadLength((int) n);
        return 0;
    }

    @Override
    public int removexattr(FuseRequest rq, FuseReply rp) {
        Inode inode = inodes.get(rq.nodeId());
        if (inode == null) {
            return Errno.ESTALE;
        }
        WorkerScratch s = scratch(rq);
        int ifd = fdOf(s, inode);
        if (ifd < 0) {
            return -ifd;
        }
        return LibC.removexattr(s.procPath(ifd), rq.argAddress(0)) < 0 ? LibC.errno() : 0;
    }

    // ---- directories ----

    @Override
    public int opendir(FuseRequest rq, FuseReply rp) {
        Inode inode = inodes.get(rq.nodeId());
        if (inode == null) {
            return Errno.ESTALE;
        }
        WorkerScratch s = scratch(rq);
        s.buf.put(WorkerScratch.SMALL, (byte) '.').put(WorkerScratch.SMALL + 1, (byte) 0);
        int fd = LibC.openat(inode.fd, s.small(), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        if (fd < 0) {
            return LibC.errno();
        }
        long fh = fhOf(fd, -1);
        VolumeState st = state;
        if (st != null) {
            st.opened(fh, inode.nodeId, O_RDONLY | O_DIRECTORY);
        }
        rp.putU64(OpenOut.FH, fh);
        // Listings change only through this mount, which invalidates the kernel's cached copy itself.
        rp.putU32(OpenOut.OPEN_FLAGS, FuseAbi.FOPEN_CACHE_DIR | FuseAbi.FOPEN_KEEP_CACHE);
        rp.putU32(OpenOut.BACKING_ID, 0);
        rp.payloadLength(OpenOut.SIZE);
        return 0;
    }

    @Override
    public int readdir(FuseRequest rq, FuseReply rp, boolean plus) {
        int fd = fileFd(rq.nodeId(), rq.u64(ReadIn.FH));
        long offset = rq.u64(ReadIn.OFFSET);
        int size = Math.min(rq.u32(ReadIn.SIZE_), rp.capacity());
        Inode dir = plus ? inodes.get(rq.nodeId()) : null;
        if (plus && dir == null) {
            return Errno.ESTALE;
        }
        WorkerScratch s = scratch(rq);
        if (LibC.lseek(fd, offset, SEEK_SET) < 0) {
            return LibC.errno();
        }
        ByteBuffer d = s.buf;
        int out = 0;
        long resumeAt = offset;
        outer:
        while (true) {
            // Ask for no more entries than could fit, so few are read only to be sought back over.
            int want = Math.min(WorkerScratch.DIRENTS_SIZE, Math.max(4096, size - out));
            long n = LibC.syscall(SYS_GETDENTS64, fd, s.dirents(), want, 0, 0, 0);
            if (n < 0) {
                if (out > 0) {
                    break;
                }
                return LibC.errno();
            }
            if (n == 0) {
                break;
            }
            int p = WorkerScratch.DIRENTS;
            int end = p + (int) n;
            while (p < end) {
                long ino = d.getLong(p);
                long next = d.getLong(p + 8);
                int reclen = d.getShort(p + 16) & 0xffff;
                int type = d.get(p + 18) & 0xff;
                int nameAt = p + 19;
                int nameLen = 0;
                while (d.get(nameAt + nameLen) != 0) {
                    nameLen++;
                }
                int fixed = plus ? Direntplus.SIZE : Dirent.SIZE;
                int rec = (fixed + nameLen + 7) & ~7;
                if (out + rec > size) {
                    LibC.lseek(fd, resumeAt, SEEK_SET);
                    break outer;
                }
                int dirent = out;
                if (plus) {
                    boolean dot = nameLen <= 2 && d.get(nameAt) == '.' && (nameLen == 1 || d.get(nameAt + 1) == '.');
                    if (dot) {
                        rp.zero(out, EntryOut.SIZE);
                    } else {
                        int cfd = LibC.openat(dir.fd, s.dirents() + (nameAt - WorkerScratch.DIRENTS), PATH_FLAGS, 0);
                        if (cfd < 0 || entry(s, rp, out, cfd) != 0) {
                            // Gone meanwhile: list the name without attributes, as a plain readdir would.
                            rp.zero(out, EntryOut.SIZE);
                        }
                    }
                    dirent = out + Direntplus.DIRENT;
                }
                rp.putU64(dirent + Dirent.INO, ino);
                rp.putU64(dirent + Dirent.OFF, next);
                rp.putU32(dirent + Dirent.NAMELEN, nameLen);
                rp.putU32(dirent + Dirent.TYPE, type);
                rp.copyFrom(d, nameAt, dirent + Dirent.SIZE, nameLen);
                int pad = out + rec - (dirent + Dirent.SIZE + nameLen);
                if (pad > 0) {
                    rp.zero(dirent + Dirent.SIZE + nameLen, pad);
                }
                out += rec;
                resumeAt = next;
                p += reclen;
            }
        }
        rp.payloadLength(out);
        return 0;
    }

    @Override
    public int releasedir(FuseRequest rq, FuseReply rp) {
        closeFile(rq.nodeId(), rq.u64(ReleaseIn.FH));
        return 0;
    }

    @Override
    public int fsyncdir(FuseRequest rq, FuseReply rp) {
        int fd = fileFd(rq.nodeId(), rq.u64(FsyncIn.FH));
        return LibC.fsync(fd) < 0 ? LibC.errno() : 0;
    }

    @Override
    public int access(FuseRequest rq, FuseReply rp) {
        // Only sent without default_permissions; answer from the mode bits like the kernel would.
        Inode inode = inodes.get(rq.nodeId());
        if (inode == null) {
            return Errno.ESTALE;
        }
        WorkerScratch s = scratch(rq);
        int ifd = fdOf(s, inode);
        if (ifd < 0) {
            return -ifd;
        }
        int err = stat(s, ifd);
        if (err != 0) {
            return err;
        }
        int mask = rq.u32(AccessIn.MASK) & 7;
        int uid = rq.uid();
        if (mask == 0 || uid == 0) {
            return 0;
        }
        ByteBuffer sx = s.buf;
        int mode = sx.getShort(WorkerScratch.STATX + 28) & 0xffff;
        int perm = uid == sx.getInt(WorkerScratch.STATX + 20) ? (mode >> 6)
                : rq.gid() == sx.getInt(WorkerScratch.STATX + 24) ? (mode >> 3) : mode;
        return (perm & mask) == mask ? 0 : Errno.EACCES;
    }
}
