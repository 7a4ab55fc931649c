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
import io.efuse.csi.fuse.FuseStructs.CreateIn;
import io.efuse.csi.fuse.FuseStructs.EntryOut;
import io.efuse.csi.fuse.FuseStructs.Kstatfs;
import io.efuse.csi.fuse.FuseStructs.LinkIn;
import io.efuse.csi.fuse.FuseStructs.MkdirIn;
import io.efuse.csi.fuse.FuseStructs.MknodIn;
import io.efuse.csi.fuse.FuseStructs.OpenIn;
import io.efuse.csi.fuse.FuseStructs.OpenOut;
import io.efuse.csi.fuse.FuseStructs.ReleaseIn;
import io.efuse.csi.sys.Errno;
import io.efuse.csi.sys.LibC;
import io.efuse.csi.sys.NativeMemory;
import java.nio.ByteBuffer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The stackable filesystem: every node is an O_PATH descriptor of a file under the backing root, and
 * every operation is a system call relative to such a descriptor. Names come from the kernel one
 * component at a time and are resolved with O_NOFOLLOW, so nothing can lead outside the backing root:
 * symlinks are only ever read, and "." and ".." are never resolved by name. Files are created with the
 * caller's fsuid/fsgid; permissions are checked by the kernel (default_permissions).
 *
 * <p>Parts live in their own classes: {@link FileData} (READ, WRITE, FSYNC, FALLOCATE, LSEEK, COPY_FILE_RANGE),
 * {@link Xattrs}, {@link Directories}, {@link FileHandles} (the fh bit layout, handles of earlier incarnations),
 * {@link PassthroughBackings}, {@link SpaceCharges} and {@link Attributes} (GETATTR, SETATTR). Still over 400 lines:
 * nodes and entries, the namespace operations, and OPEN/CREATE with their passthrough decision remain here,
 * waiting to be split the same way.
 */
public final class EfuseFilesystem implements FuseFilesystem {
    private static final Logger LOG = LoggerFactory.getLogger(EfuseFilesystem.class);
    static final int PATH_FLAGS = O_PATH | O_NOFOLLOW | O_CLOEXEC;
    static final int STATX_FLAGS = AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW;
    private static final int ENOTSUP = Errno.EOPNOTSUPP;
    private static final ByteBuffer ACL_ACCESS_NAME = NativeMemory.cString("system.posix_acl_access");
    private static final ByteBuffer ACL_DEFAULT_NAME = NativeMemory.cString("system.posix_acl_default");

    private final MountOptions options;
    private final InodeTable inodes = InodeTable.withSyscallClose();
    private final long entrySec;
    private final int entryNsec;
    private final long attrSec;
    private final int attrNsec;
    private final PassthroughBackings backings = new PassthroughBackings();
    private final FileHandles handles = new FileHandles();
    private final Xattrs xattrs = new Xattrs(this);
    private final Directories directories = new Directories(this, inodes, handles);
    private volatile FuseConnection connection;
    private volatile boolean passthrough;
    /** The tier files are opened with from now on: as mounted, or as a live change set it ({@link #retier}). */
    private volatile Tier tier;
    private volatile boolean writeback;
    /** Whether the backing filesystem keeps POSIX ACLs (probed on its root when mounting). */
    private final boolean backingAcls;
    private volatile boolean passthroughFailureLogged;
    private final long rootDev;
    private final int handleMountFd;
    /** The daemon's own size limit, or null when the volume has none (or the kernel enforces it). */
    private final SpaceAccount account;
    /** What operations charge to and refund from account. */
    private final SpaceCharges charges;
    private final Attributes attributes;
    private final FileData data;
    /** The usage file of a shown size, as a C string; null without one. */
    private final ByteBuffer usagePath;
    /** The size statfs shows for an engine that enforces it in the kernel; grows with the volume. */
    private volatile long shownBytes;

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
        this.charges = new SpaceCharges(account);
        this.attributes = new Attributes(this, account, charges);
        this.data = new FileData(this, inodes, account, charges, attributes);
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
        backings.init(c);
        this.passthrough = c.passthrough() && tier != Tier.CLASSIC;
        this.writeback = c.writebackCache();
        xattrs.init(c);
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
        return backings.openFiles();
    }

    /**
     * Open files that write to their backing file without the daemon: the mount's gate cannot hold their writes
     * back, only a freeze of the backing filesystem can. Handles from before a takeover are counted when they were
     * opened for writing with passthrough, whichever way their writes went.
     */
    public int passthroughWriters() {
        return backings.writers() + handles.earlierPassthroughWriters();
    }

    public long passthroughOpenedTotal() {
        return backings.openedTotal();
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
    int fdOf(WorkerScratch s, Inode inode) {
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

    static WorkerScratch scratch(FuseRequest rq) {
        Object s = rq.workerState();
        if (s == null) {
            WorkerScratch w = new WorkerScratch();
            rq.workerState(w);
            return w;
        }
        return (WorkerScratch) s;
    }

    /** An operation on the node a request names, given that node. */
    interface NodeOp<T> {
        int run(T on, FuseRequest rq, FuseReply rp, Inode inode);
    }

    /**
     * Runs op on the node of the request, or answers ESTALE when this filesystem no longer has it. op is a method
     * reference that captures nothing (on is passed to it), so that no request allocates.
     */
    private <T> int onNode(T on, FuseRequest rq, FuseReply rp, NodeOp<T> op) {
        Inode inode = inodes.get(rq.nodeId());
        return inode == null ? Errno.ESTALE : op.run(on, rq, rp, inode);
    }

    // ---- attributes and entries ----

    /** statx of fd itself into the scratch statx region; 0 or an errno. */
    static int stat(WorkerScratch s, int fd) {
        return LibC.statx(fd, s.empty(), STATX_FLAGS, STATX_BASIC_STATS, s.statx()) < 0 ? LibC.errno() : 0;
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

    void putAttrOut(FuseReply rp, WorkerScratch s) {
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
    int entry(WorkerScratch s, FuseReply rp, int off, int fd) {
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
        return onNode(this, rq, rp, EfuseFilesystem::lookupIn);
    }

    private int lookupIn(FuseRequest rq, FuseReply rp, Inode parent) {
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

    // ---- attributes (Attributes) ----

    @Override
    public int getattr(FuseRequest rq, FuseReply rp) {
        return onNode(attributes, rq, rp, Attributes::getattr);
    }

    @Override
    public int setattr(FuseRequest rq, FuseReply rp) {
        return onNode(attributes, rq, rp, Attributes::setattr);
    }

    @Override
    public int readlink(FuseRequest rq, FuseReply rp) {
        return onNode(this, rq, rp, EfuseFilesystem::readlinkOf);
    }

    private int readlinkOf(FuseRequest rq, FuseReply rp, Inode inode) {
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
        return onNode(this, rq, rp, EfuseFilesystem::symlinkIn);
    }

    private int symlinkIn(FuseRequest rq, FuseReply rp, Inode parent) {
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
        return onNode(this, rq, rp, EfuseFilesystem::mknodIn);
    }

    private int mknodIn(FuseRequest rq, FuseReply rp, Inode parent) {
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
        return onNode(this, rq, rp, EfuseFilesystem::mkdirIn);
    }

    private int mkdirIn(FuseRequest rq, FuseReply rp, Inode parent) {
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
        if (!charges.chargeInode()) {
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
            charges.refundInode();
            return err;
        }
        return lookupName(s, parent, name, rp, 0);
    }

    @Override
    public int unlink(FuseRequest rq, FuseReply rp) {
        return onNode(this, rq, rp, EfuseFilesystem::unlinkIn);
    }

    @Override
    public int rmdir(FuseRequest rq, FuseReply rp) {
        return onNode(this, rq, rp, EfuseFilesystem::rmdirIn);
    }

    private int unlinkIn(FuseRequest rq, FuseReply rp, Inode parent) {
        return remove(rq, parent, 0);
    }

    private int rmdirIn(FuseRequest rq, FuseReply rp, Inode parent) {
        return remove(rq, parent, AT_REMOVEDIR);
    }

    private int remove(FuseRequest rq, Inode parent, int flags) {
        if (rq.isDotOrDotDot(0)) {
            return flags == AT_REMOVEDIR ? Errno.EINVAL : Errno.EISDIR;
        }
        long name = rq.argAddress(0);
        long[] removed = account == null ? null : charges.removalOf(scratch(rq), parent, name);
        if (LibC.unlinkat(parent.fd, name, flags) < 0) {
            return LibC.errno();
        }
        charges.freed(removed);
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
                : charges.removalOf(scratch(rq), to, rq.argAddress(newNameOff));
        int r = LibC.renameat2(from.fd, rq.argAddress(namesOffset), to.fd, rq.argAddress(newNameOff), flags);
        if (r < 0) {
            return LibC.errno();
        }
        charges.freed(replaced);
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

    int fileFd(long nodeId, long fh) {
        return handles.fileFd(nodeId, fh, this);
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
        handles.recoverable(st);
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
                id = backings.acquire(inode, fd, direct);
            } else {
                // Writers must be charged, so their reads and writes go through the daemon. The kernel keeps an
                // inode in one io mode: while readers hold it in passthrough, a writer joins their backing file
                // with FOPEN_DIRECT_IO (read and write to the daemon, mmap on the backing file).
                id = backings.join(inode);
                daemonWrites = id >= 0;
            }
            if (id >= 0) {
                backingId = id;
                openFlags |= FuseAbi.FOPEN_PASSTHROUGH | (daemonWrites ? FuseAbi.FOPEN_DIRECT_IO : 0);
                backings.opened();
                passthroughWriter = writer && !daemonWrites;
            } else if (id != PassthroughBackings.NOT_NOW && !passthroughFailureLogged) {
                passthroughFailureLogged = true;
                LOG.warn("passthrough open refused by the kernel (" + Errno.name(-id)
                        + "); file data goes through the daemon");
            }
        } else if (isRegular(inode.mode)) {
            // The tier was changed to classic while passthrough opens of this inode from before hold it in
            // passthrough mode, where the kernel refuses a cached open: this one joins their backing file with
            // FOPEN_DIRECT_IO, so that its reads and writes still come to the daemon.
            int id = backings.join(inode);
            if (id >= 0) {
                backingId = id;
                openFlags |= FuseAbi.FOPEN_PASSTHROUGH | FuseAbi.FOPEN_DIRECT_IO;
                backings.joinedDirect();
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
            if (!inode.cacheStale || !PassthroughBackings.clearStale(inode)) {
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
        long fh = handles.fhOf(fd, backingId) | (daemonPath ? FileHandles.DAEMON_PATH : 0);
        if (passthroughWriter) {
            backings.writerOpened(fh);
        }
        handles.opened(fh, inode.nodeId, flags);
        rp.putU64(off + OpenOut.FH, fh);
        rp.putU32(off + OpenOut.OPEN_FLAGS, openFlags);
        rp.putU32(off + OpenOut.BACKING_ID, backingId < 0 ? 0 : backingId);
    }

    @Override
    public int open(FuseRequest rq, FuseReply rp) {
        return onNode(this, rq, rp, EfuseFilesystem::openOf);
    }

    private int openOf(FuseRequest rq, FuseReply rp, Inode inode) {
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
                long before = SpaceCharges.allocatedOf(s, ifd);
                fd = LibC.open(s.procPath(ifd), openFlagsFor(flags), 0);
                int err = LibC.errno();
                if (fd < 0) {
                    return err;
                }
                charges.settle(s, ifd, 0, before);
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
            attributes.killSuidSgid(s, inode);
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
        return onNode(this, rq, rp, EfuseFilesystem::createIn);
    }

    private int createIn(FuseRequest rq, FuseReply rp, Inode parent) {
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
                    truncated = SpaceCharges.allocatedOf(s, probe);
                }
                LibC.close(probe);
            } else if (!charges.chargeInode()) {
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
                charges.refundInode();
            }
            return err;
        }
        if (truncated >= 0) {
            charges.settle(s, fd, 0, truncated);
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
        return onNode(this, rq, rp, EfuseFilesystem::tmpfileIn);
    }

    private int tmpfileIn(FuseRequest rq, FuseReply rp, Inode parent) {
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

    // ---- file data (FileData) ----

    @Override
    public int read(FuseRequest rq, FuseReply rp) {
        return data.read(rq, rp);
    }

    @Override
    public int write(FuseRequest rq, FuseReply rp) {
        return data.write(rq, rp);
    }

    @Override
    public int flush(FuseRequest rq, FuseReply rp) {
        return data.flush(rq, rp);
    }

    @Override
    public int release(FuseRequest rq, FuseReply rp) {
        long fh = rq.u64(ReleaseIn.FH);
        int backingId = FileHandles.backingIdOf(fh);
        if (backingId >= 0) {
            backings.released(inodes.get(rq.nodeId()), backingId, fh);
        } else if ((fh & FileHandles.DAEMON_PATH) != 0) {
            Inode inode = inodes.get(rq.nodeId());
            if (inode != null) {
                synchronized (inode) {
                    inode.daemonOpens = Math.max(0, inode.daemonOpens - 1);
                }
            }
        }
        handles.closeFile(rq.nodeId(), fh);
        return 0;
    }

    @Override
    public int fsync(FuseRequest rq, FuseReply rp) {
        return data.fsync(rq, rp);
    }

    @Override
    public int fallocate(FuseRequest rq, FuseReply rp) {
        return data.fallocate(rq, rp);
    }

    @Override
    public int lseek(FuseRequest rq, FuseReply rp) {
        return data.lseek(rq, rp);
    }

    @Override
    public int copyFileRange(FuseRequest rq, FuseReply rp) {
        return data.copyFileRange(rq, rp);
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

    // ---- extended attributes (Xattrs) ----

    @Override
    public int setxattr(FuseRequest rq, FuseReply rp) {
        return onNode(xattrs, rq, rp, Xattrs::setxattr);
    }

    @Override
    public int getxattr(FuseRequest rq, FuseReply rp) {
        return onNode(xattrs, rq, rp, Xattrs::getxattr);
    }

    @Override
    public int listxattr(FuseRequest rq, FuseReply rp) {
        return onNode(xattrs, rq, rp, Xattrs::listxattr);
    }

    @Override
    public int removexattr(FuseRequest rq, FuseReply rp) {
        return onNode(xattrs, rq, rp, Xattrs::removexattr);
    }

    // ---- directories (Directories) ----

    @Override
    public int opendir(FuseRequest rq, FuseReply rp) {
        return onNode(directories, rq, rp, Directories::opendir);
    }

    @Override
    public int readdir(FuseRequest rq, FuseReply rp, boolean plus) {
        return directories.readdir(rq, rp, plus);
    }

    @Override
    public int releasedir(FuseRequest rq, FuseReply rp) {
        return directories.releasedir(rq, rp);
    }

    @Override
    public int fsyncdir(FuseRequest rq, FuseReply rp) {
        return directories.fsyncdir(rq, rp);
    }

    @Override
    public int access(FuseRequest rq, FuseReply rp) {
        return onNode(this, rq, rp, EfuseFilesystem::accessOf);
    }

    /** Only sent without default_permissions; answers from the mode bits like the kernel would. */
    private int accessOf(FuseRequest rq, FuseReply rp, Inode inode) {
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
