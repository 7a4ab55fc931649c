package io.efuse.csi.fs;

import static io.efuse.csi.sys.LinuxConstants.O_ACCMODE;
import static io.efuse.csi.sys.LinuxConstants.O_RDONLY;
import static io.efuse.csi.sys.LinuxConstants.O_TRUNC;

import io.efuse.csi.bpf.EfuseCacheCounters;
import io.efuse.csi.bpf.EfuseCacheMaps;
import io.efuse.csi.fuse.FuseAbi;
import io.efuse.csi.fuse.FuseConnection;
import io.efuse.csi.fuse.FuseFilesystem;
import io.efuse.csi.fuse.FuseReply;
import io.efuse.csi.fuse.FuseRequest;
import io.efuse.csi.fuse.FuseStructs.AttrOut;
import io.efuse.csi.fuse.FuseStructs.CopyFileRangeIn;
import io.efuse.csi.fuse.FuseStructs.CreateIn;
import io.efuse.csi.fuse.FuseStructs.Dirent;
import io.efuse.csi.fuse.FuseStructs.Direntplus;
import io.efuse.csi.fuse.FuseStructs.EntryOut;
import io.efuse.csi.fuse.FuseStructs.LinkIn;
import io.efuse.csi.fuse.FuseStructs.MkdirIn;
import io.efuse.csi.fuse.FuseStructs.MknodIn;
import io.efuse.csi.fuse.FuseStructs.OpenIn;
import io.efuse.csi.fuse.FuseStructs.OpenOut;
import io.efuse.csi.fuse.FuseStructs.ReadIn;
import io.efuse.csi.fuse.FuseStructs.ReleaseIn;
import io.efuse.csi.sys.Errno;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves a filesystem and keeps the volume's in-kernel cache in step with it: fills the cache from the replies
 * that name or describe nodes, and announces every change an operation made before its reply leaves (so before
 * anyone can see it). Which cache, if any, is decided at INIT: a kernel that does not offer the eFuse hook, or a
 * mount with the cache off, gets {@link KernelCache#NONE} and the filesystem is served exactly as without this.
 */
final class KernelCachingFilesystem extends ForwardingFilesystem<FuseFilesystem> {
    private static final Logger LOG = LoggerFactory.getLogger(KernelCachingFilesystem.class);

    /** The node id the kernel knows under a name, or 0: asked before a name is removed or replaced. */
    interface Names {
        long nodeIdNamed(FuseRequest rq, long parent, long nameAddress);
    }

    /** Loads the cache program for a connection that offers the eFuse hook and attaches it. */
    interface Loader {
        KernelCache attach(FuseConnection connection) throws Exception;
    }

    private final Names names;
    private final KernelCacheMode mode;
    private final Loader loader;
    private final String volume;
    /** Passthrough opens, by file handle: their node, and whether they write. */
    private final ConcurrentHashMap<Long, BypassingOpen> bypassingOpens = new ConcurrentHashMap<>();

    private record BypassingOpen(long node, boolean writes) {}
    private volatile KernelCache cache = KernelCache.NONE;
    private volatile String status = "not started";
    private volatile boolean attached;
    /** What the program had answered when the session ended and it was unloaded. */
    private volatile EfuseCacheCounters lastCounters = EfuseCacheCounters.NONE;

    KernelCachingFilesystem(FuseFilesystem fs, Names names, KernelCacheMode mode, Loader loader, String volume) {
        super(fs);
        this.names = names;
        this.mode = mode;
        this.loader = loader;
        this.volume = volume;
    }

    KernelCache cache() {
        return cache;
    }

    /** Whether a cache program was attached to this session at INIT. */
    boolean attached() {
        return attached;
    }

    /** What the program answered: now, or when the session ended. */
    EfuseCacheCounters counters() {
        KernelCache c = cache;
        return c.active() ? c.counters() : lastCounters;
    }

    /** Whether the cache is active, and if not, why. */
    String status() {
        return status;
    }

    @Override
    public void init(FuseConnection connection) {
        fs.init(connection);
        if (mode == KernelCacheMode.OFF) {
            status = "off (--kernel-cache off)";
        } else if (!connection.efuseOffered()) {
            status = "inactive: the kernel does not offer the eFuse hook (FUSE_EFUSE)";
        } else {
            try {
                cache = loader.attach(connection);
                attached = true;
                status = "active: the cache program answers LOOKUP, GETATTR and READ in the kernel";
            } catch (Exception e) {
                status = "inactive: the kernel offers the eFuse hook but the cache program cannot be attached: "
                        + e.getMessage();
            }
        }
        LOG.info("{}: in-kernel cache {}", volume, status);
    }

    /** Something changed the backing tree behind the mount: these nodes must not be served from the cache. */
    void changedBehind(long... nodes) {
        cache.changed(KernelCache.NO_FILL, nodes);
    }

    @Override
    public void destroy() {
        KernelCache c = cache;
        if (c.active()) {
            lastCounters = c.counters();
        }
        cache = KernelCache.NONE;
        c.close();
        fs.destroy();
    }

    private static byte[] attrOf(FuseReply rp, int off) {
        byte[] attr = new byte[EfuseCacheMaps.ATTR_SIZE];
        rp.copyTo(off, attr, attr.length);
        return attr;
    }

    /** Fills the fuse_entry_out at off of the reply as the answer to LOOKUP(parent, name). */
    private static void fillEntry(KernelCache c, long ticket, long parent, byte[] name, FuseReply rp, int off) {
        long node = rp.getU64(off + EntryOut.NODEID);
        if (node == 0) {
            c.negativeEntry(ticket, parent, name, rp.getU64(off + EntryOut.ENTRY_VALID),
                    rp.getU32(off + EntryOut.ENTRY_VALID_NSEC));
            return;
        }
        c.entry(ticket, parent, name, node, rp.getU64(off + EntryOut.GENERATION), rp.getU64(off + EntryOut.ENTRY_VALID),
                rp.getU32(off + EntryOut.ENTRY_VALID_NSEC), rp.getU64(off + EntryOut.ATTR_VALID),
                rp.getU32(off + EntryOut.ATTR_VALID_NSEC), attrOf(rp, off + EntryOut.ATTR));
    }

    private static boolean answered(int err, FuseReply rp, int size) {
        return err == 0 && !rp.suppressed() && rp.payloadLength() >= size;
    }

    @Override
    public int lookup(FuseRequest rq, FuseReply rp) {
        KernelCache c = cache;
        long t = c.ticket();
        int err = fs.lookup(rq, rp);
        if (t != KernelCache.NO_FILL) {
            if (answered(err, rp, EntryOut.SIZE)) {
                fillEntry(c, t, rq.nodeId(), rq.bytes(0), rp, 0);
            } else if (err == Errno.ENOENT) {
                // An ENOENT reply is a negative entry that is not kept: the same with a zero timeout.
                c.negativeEntry(t, rq.nodeId(), rq.bytes(0), 0, 0);
            }
        }
        return err;
    }

    @Override
    public void forget(long nodeId, long nlookup) {
        cache.forgotten(nodeId);
        fs.forget(nodeId, nlookup);
    }

    @Override
    public int getattr(FuseRequest rq, FuseReply rp) {
        KernelCache c = cache;
        long t = c.ticket();
        int err = fs.getattr(rq, rp);
        if (t != KernelCache.NO_FILL && answered(err, rp, AttrOut.SIZE)) {
            c.attr(t, rq.nodeId(), rp.getU64(AttrOut.ATTR_VALID), rp.getU32(AttrOut.ATTR_VALID_NSEC),
                    attrOf(rp, AttrOut.ATTR));
        }
        return err;
    }

    @Override
    public int setattr(FuseRequest rq, FuseReply rp) {
        KernelCache c = cache;
        long t = c.ticket();
        int err = fs.setattr(rq, rp);
        // Announced whatever the result: a failed SETATTR may have changed part of what it was asked.
        t = c.changed(t, rq.nodeId());
        if (t != KernelCache.NO_FILL && answered(err, rp, AttrOut.SIZE)) {
            c.attr(t, rq.nodeId(), rp.getU64(AttrOut.ATTR_VALID), rp.getU32(AttrOut.ATTR_VALID_NSEC),
                    attrOf(rp, AttrOut.ATTR));
        }
        return err;
    }

    /** A new name in the directory of the request: the directory changes, the reply names the new node. */
    private int made(FuseRequest rq, FuseReply rp, int nameOff, int err, long ticket, KernelCache c) {
        long t = c.changed(ticket, rq.nodeId());
        if (t != KernelCache.NO_FILL && answered(err, rp, EntryOut.SIZE)) {
            fillEntry(c, t, rq.nodeId(), rq.bytes(nameOff), rp, 0);
        }
        return err;
    }

    @Override
    public int symlink(FuseRequest rq, FuseReply rp) {
        KernelCache c = cache;
        long t = c.ticket();
        return made(rq, rp, 0, fs.symlink(rq, rp), t, c);
    }

    @Override
    public int mknod(FuseRequest rq, FuseReply rp) {
        KernelCache c = cache;
        long t = c.ticket();
        return made(rq, rp, MknodIn.SIZE, fs.mknod(rq, rp), t, c);
    }

    @Override
    public int mkdir(FuseRequest rq, FuseReply rp) {
        KernelCache c = cache;
        long t = c.ticket();
        return made(rq, rp, MkdirIn.SIZE, fs.mkdir(rq, rp), t, c);
    }

    @Override
    public int unlink(FuseRequest rq, FuseReply rp) {
        KernelCache c = cache;
        // The node loses a link (nlink, ctime): it is found before its name goes.
        long node = c.active() ? names.nodeIdNamed(rq, rq.nodeId(), rq.argAddress(0)) : 0;
        int err = fs.unlink(rq, rp);
        c.changed(KernelCache.NO_FILL, rq.nodeId(), node);
        return err;
    }

    @Override
    public int rmdir(FuseRequest rq, FuseReply rp) {
        KernelCache c = cache;
        long node = c.active() ? names.nodeIdNamed(rq, rq.nodeId(), rq.argAddress(0)) : 0;
        int err = fs.rmdir(rq, rp);
        c.changed(KernelCache.NO_FILL, rq.nodeId(), node);
        return err;
    }

    @Override
    public int rename(FuseRequest rq, FuseReply rp, long newDir, int flags, int namesOffset) {
        KernelCache c = cache;
        long moved = 0;
        long replaced = 0;
        if (c.active()) {
            int newNameOff = namesOffset + rq.stringLength(namesOffset) + 1;
            moved = names.nodeIdNamed(rq, rq.nodeId(), rq.argAddress(namesOffset));
            replaced = names.nodeIdNamed(rq, newDir, rq.argAddress(newNameOff));
        }
        int err = fs.rename(rq, rp, newDir, flags, namesOffset);
        // Both directories, the node moved (a directory's ".." and ctime), and the one replaced or exchanged.
        c.changed(KernelCache.NO_FILL, rq.nodeId(), newDir, moved, replaced);
        return err;
    }

    @Override
    public int link(FuseRequest rq, FuseReply rp) {
        KernelCache c = cache;
        long t = c.ticket();
        int err = fs.link(rq, rp);
        t = c.changed(t, rq.u64(LinkIn.OLDNODEID));
        return made(rq, rp, LinkIn.SIZE, err, t, c);
    }

    private static boolean writes(int openFlags) {
        return (openFlags & O_ACCMODE) != O_RDONLY || (openFlags & O_TRUNC) != 0;
    }

    /**
     * An open with passthrough: the kernel reads and writes the backing file without the daemon. A writer keeps
     * the node unserved until its release; a reader may move the backing file's atime, so its release makes the
     * node's attributes stale too.
     */
    private void openedFile(KernelCache c, FuseReply rp, int openOutOff, long node, int openFlags) {
        if ((rp.getU32(openOutOff + OpenOut.OPEN_FLAGS) & FuseAbi.FOPEN_PASSTHROUGH) != 0) {
            boolean writer = writes(openFlags);
            if (writer) {
                c.bypassingWriterOpened(node);
            }
            bypassingOpens.put(rp.getU64(openOutOff + OpenOut.FH), new BypassingOpen(node, writer));
        }
    }

    @Override
    public int open(FuseRequest rq, FuseReply rp) {
        KernelCache c = cache;
        int flags = rq.u32(OpenIn.FLAGS);
        int err = fs.open(rq, rp);
        if (writes(flags)) {
            // O_TRUNC, and the set-id bits a writer's open may clear
            c.changed(KernelCache.NO_FILL, rq.nodeId());
        }
        if (c.active() && answered(err, rp, OpenOut.SIZE)) {
            openedFile(c, rp, 0, rq.nodeId(), flags);
        }
        return err;
    }

    @Override
    public int create(FuseRequest rq, FuseReply rp) {
        KernelCache c = cache;
        long t = c.ticket();
        int err = fs.create(rq, rp);
        if (c.active() && answered(err, rp, EntryOut.SIZE + OpenOut.SIZE)) {
            // before the entry is filled, so that a file written behind the daemon never has served attributes
            openedFile(c, rp, EntryOut.SIZE, rp.getU64(EntryOut.NODEID), rq.u32(CreateIn.FLAGS));
        }
        return made(rq, rp, CreateIn.SIZE, err, t, c);
    }

    @Override
    public int tmpfile(FuseRequest rq, FuseReply rp) {
        KernelCache c = cache;
        int err = fs.tmpfile(rq, rp);
        c.changed(KernelCache.NO_FILL, rq.nodeId());
        if (c.active() && answered(err, rp, EntryOut.SIZE + OpenOut.SIZE)) {
            openedFile(c, rp, EntryOut.SIZE, rp.getU64(EntryOut.NODEID), rq.u32(CreateIn.FLAGS));
        }
        return err;
    }

    @Override
    public int read(FuseRequest rq, FuseReply rp) {
        KernelCache c = cache;
        long t = c.ticket();
        int err = fs.read(rq, rp);
        if (t != KernelCache.NO_FILL && err == 0 && !rp.suppressed() && rq.u64(ReadIn.OFFSET) == 0) {
            int len = rp.payloadLength();
            // Shorter than asked from offset 0: the reply is the whole file.
            if (len < rq.u32(ReadIn.SIZE_) && len <= EfuseCacheMaps.DATA_MAX) {
                byte[] content = new byte[len];
                rp.copyTo(0, content, len);
                c.data(t, rq.nodeId(), content, len);
            }
        }
        return err;
    }

    @Override
    public int write(FuseRequest rq, FuseReply rp) {
        int err = fs.write(rq, rp);
        cache.changed(KernelCache.NO_FILL, rq.nodeId());
        return err;
    }

    @Override
    public int release(FuseRequest rq, FuseReply rp) {
        BypassingOpen open = bypassingOpens.remove(rq.u64(ReleaseIn.FH));
        int err = fs.release(rq, rp);
        if (open != null && open.writes()) {
            // The last writes through the backing file are done: size and times are the backing file's again.
            cache.bypassingWriterClosed(open.node());
        } else if (open != null) {
            cache.changed(KernelCache.NO_FILL, open.node());
        }
        return err;
    }

    @Override
    public int setxattr(FuseRequest rq, FuseReply rp) {
        int err = fs.setxattr(rq, rp);
        cache.changed(KernelCache.NO_FILL, rq.nodeId()); // ctime
        return err;
    }

    @Override
    public int removexattr(FuseRequest rq, FuseReply rp) {
        int err = fs.removexattr(rq, rp);
        cache.changed(KernelCache.NO_FILL, rq.nodeId());
        return err;
    }

    @Override
    public int readdir(FuseRequest rq, FuseReply rp, boolean plus) {
        KernelCache c = cache;
        long t = c.ticket();
        int err = fs.readdir(rq, rp, plus);
        if (plus && t != KernelCache.NO_FILL && err == 0 && !rp.suppressed()) {
            int len = rp.payloadLength();
            for (int off = 0; off + Direntplus.SIZE <= len; ) {
                int nameLen = rp.getU32(off + Direntplus.DIRENT + Dirent.NAMELEN);
                if (nameLen <= 0 || off + Direntplus.SIZE + nameLen > len) {
                    break;
                }
                if (rp.getU64(off + Direntplus.ENTRY_OUT + EntryOut.NODEID) != 0) {
                    byte[] name = new byte[nameLen];
                    rp.copyTo(off + Direntplus.SIZE, name, nameLen);
                    fillEntry(c, t, rq.nodeId(), name, rp, off + Direntplus.ENTRY_OUT);
                }
                off += (Direntplus.SIZE + nameLen + 7) & ~7;
            }
        }
        return err;
    }

    @Override
    public int fallocate(FuseRequest rq, FuseReply rp) {
        int err = fs.fallocate(rq, rp);
        cache.changed(KernelCache.NO_FILL, rq.nodeId());
        return err;
    }

    @Override
    public int copyFileRange(FuseRequest rq, FuseReply rp) {
        int err = fs.copyFileRange(rq, rp);
        cache.changed(KernelCache.NO_FILL, rq.u64(CopyFileRangeIn.NODEID_OUT));
        return err;
    }
}
