package io.efuse.csi.fuse;

import io.efuse.csi.fuse.FuseStructs.NotifyInvalEntryOut;
import io.efuse.csi.fuse.FuseStructs.NotifyInvalInodeOut;
import io.efuse.csi.fuse.FuseStructs.OutHeader;
import io.efuse.csi.sys.LibC;
import io.efuse.csi.sys.NativeMemory;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * Unsolicited messages to the kernel that tell it to drop what it cached, for changes the daemon
 * makes to the backing tree itself. Must not be called for a directory from inside a request that the
 * kernel serves with that directory locked (the kernel would wait for itself).
 */
public final class FuseNotifier {
    private final int deviceFd;
    private final ByteBuffer buf = NativeMemory.allocate(OutHeader.SIZE + 64 + 4096);
    private final long address = NativeMemory.address(buf);

    FuseNotifier(int deviceFd) {
        this.deviceFd = deviceFd;
    }

    /**
     * FUSE_NOTIFY_INVAL_INODE: drops cached attributes of nodeId and, if off >= 0, its cached data
     * from off for len bytes (len <= 0: to the end). Returns 0 or an errno (ENOENT: the kernel does not
     * know the node, nothing to drop).
     */
    public synchronized int invalidateInode(long nodeId, long off, long len) {
        buf.putLong(OutHeader.SIZE + NotifyInvalInodeOut.INO, nodeId);
        buf.putLong(OutHeader.SIZE + NotifyInvalInodeOut.OFF, off);
        buf.putLong(OutHeader.SIZE + NotifyInvalInodeOut.LEN, len);
        return send(FuseAbi.NOTIFY_INVAL_INODE, NotifyInvalInodeOut.SIZE);
    }

    /** FUSE_NOTIFY_INVAL_ENTRY: drops the cached lookup of name in directory parent. */
    public synchronized int invalidateEntry(long parent, String name) {
        byte[] b = name.getBytes(StandardCharsets.UTF_8);
        if (b.length == 0 || b.length > 255) {
            throw new IllegalArgumentException("bad name '" + name + "'");
        }
        buf.putLong(OutHeader.SIZE + NotifyInvalEntryOut.PARENT, parent);
        buf.putInt(OutHeader.SIZE + NotifyInvalEntryOut.NAMELEN, b.length);
        buf.putInt(OutHeader.SIZE + NotifyInvalEntryOut.FLAGS, 0);
        buf.put(OutHeader.SIZE + NotifyInvalEntryOut.SIZE, b);
        buf.put(OutHeader.SIZE + NotifyInvalEntryOut.SIZE + b.length, (byte) 0);
        return send(FuseAbi.NOTIFY_INVAL_ENTRY, NotifyInvalEntryOut.SIZE + b.length + 1);
    }

    private int send(int code, int payload) {
        int len = OutHeader.SIZE + payload;
        buf.putInt(OutHeader.LEN, len);
        buf.putInt(OutHeader.ERROR, code);
        buf.putLong(OutHeader.UNIQUE, 0);
        return LibC.write(deviceFd, address, len) < 0 ? LibC.errno() : 0;
    }
}
