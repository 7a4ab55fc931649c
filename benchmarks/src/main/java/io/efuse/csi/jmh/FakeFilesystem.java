package io.efuse.csi.jmh;

import io.efuse.csi.fuse.FuseFilesystem;
import io.efuse.csi.fuse.FuseReply;
import io.efuse.csi.fuse.FuseRequest;
import io.efuse.csi.fuse.FuseStructs.Attr;
import io.efuse.csi.fuse.FuseStructs.AttrOut;
import io.efuse.csi.fuse.FuseStructs.EntryOut;
import io.efuse.csi.fuse.FuseStructs.ReadIn;
import io.efuse.csi.fuse.FuseStructs.WriteIn;
import io.efuse.csi.fuse.FuseStructs.WriteOut;
import io.efuse.csi.sys.Errno;

/**
 * A filesystem that answers from constants, so that benchmarks measure decoding, dispatch and reply
 * encoding alone. It fills replies the way a real one does (zeroed structs, every attribute field).
 */
final class FakeFilesystem implements FuseFilesystem {
    @Override
    public int getattr(FuseRequest rq, FuseReply rp) {
        rp.zero(0, AttrOut.SIZE);
        rp.putU64(AttrOut.ATTR_VALID, 60);
        attr(rp, AttrOut.ATTR, rq.nodeId());
        rp.payloadLength(AttrOut.SIZE);
        return 0;
    }

    @Override
    public int lookup(FuseRequest rq, FuseReply rp) {
        int n = rq.stringLength(0);
        if (n == 0 || rq.isDotOrDotDot(0)) {
            return Errno.ENOENT;
        }
        rp.zero(0, EntryOut.SIZE);
        rp.putU64(EntryOut.NODEID, 1000 + n);
        rp.putU64(EntryOut.ENTRY_VALID, 60);
        rp.putU64(EntryOut.ATTR_VALID, 60);
        attr(rp, EntryOut.ATTR, 1000 + n);
        rp.payloadLength(EntryOut.SIZE);
        return 0;
    }

    @Override
    public int write(FuseRequest rq, FuseReply rp) {
        int size = rq.u32(WriteIn.SIZE_);
        // touch the data's first and last byte as a copy to the backing file would
        long sum = rq.argAddress(WriteIn.SIZE) + rq.argAddress(WriteIn.SIZE + size - 1);
        rp.putU32(WriteOut.SIZE_, sum != 0 ? size : 0);
        rp.putU32(WriteOut.PADDING, 0);
        rp.payloadLength(WriteOut.SIZE);
        return 0;
    }

    @Override
    public int read(FuseRequest rq, FuseReply rp) {
        int size = Math.min(rq.u32(ReadIn.SIZE_), rp.capacity());
        rp.putU64(0, rq.u64(ReadIn.OFFSET)); // where pread would put the data
        rp.payloadLength(size);
        return 0;
    }

    private static void attr(FuseReply rp, int at, long ino) {
        rp.putU64(at + Attr.INO, ino);
        rp.putU64(at + Attr.SIZE_, 4096);
        rp.putU64(at + Attr.BLOCKS, 8);
        rp.putU64(at + Attr.ATIME, 1_700_000_000L);
        rp.putU64(at + Attr.MTIME, 1_700_000_000L);
        rp.putU64(at + Attr.CTIME, 1_700_000_000L);
        rp.putU32(at + Attr.MODE, 0100644);
        rp.putU32(at + Attr.NLINK, 1);
        rp.putU32(at + Attr.BLKSIZE, 4096);
    }
}
