package io.efuse.csi.jmh;

import io.efuse.csi.fuse.FuseOpcode;
import io.efuse.csi.fuse.FuseRequest;
import io.efuse.csi.fuse.FuseStructs.InHeader;
import io.efuse.csi.fuse.FuseStructs.ReadIn;
import io.efuse.csi.fuse.FuseStructs.WriteIn;
import io.efuse.csi.sys.NativeMemory;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/** Requests laid out as the kernel delivers them: contiguous (/dev/fuse) or split (io_uring entries). */
final class Requests {
    static final int URING_OP_IN = 128;
    static final byte[] NAME = "a-file-name.txt\0".getBytes(StandardCharsets.US_ASCII);

    private Requests() {}

    static void header(ByteBuffer b, int len, int opcode, long unique, long node) {
        b.putInt(InHeader.LEN, len).putInt(InHeader.OPCODE, opcode).putLong(InHeader.UNIQUE, unique)
                .putLong(InHeader.NODEID, node).putInt(InHeader.UID, 1000).putInt(InHeader.GID, 1000)
                .putInt(InHeader.PID, 4242);
    }

    /** A contiguous request; returns its length. */
    static int contiguous(ByteBuffer b, int opcode, int dataSize) {
        int a = InHeader.SIZE;
        switch (opcode) {
            case FuseOpcode.GETATTR -> {
                b.putLong(a, 0).putLong(a + 8, 0);
                header(b, a + 16, opcode, 10, 5);
                return a + 16;
            }
            case FuseOpcode.LOOKUP -> {
                b.put(a, NAME);
                header(b, a + NAME.length, opcode, 12, 1);
                return a + NAME.length;
            }
            case FuseOpcode.WRITE -> {
                b.putLong(a + WriteIn.FH, 3).putLong(a + WriteIn.OFFSET, 8192).putInt(a + WriteIn.SIZE_, dataSize);
                header(b, a + WriteIn.SIZE + dataSize, opcode, 14, 5);
                return a + WriteIn.SIZE + dataSize;
            }
            case FuseOpcode.READ -> {
                b.putLong(a + ReadIn.FH, 3).putLong(a + ReadIn.OFFSET, 8192).putInt(a + ReadIn.SIZE_, dataSize);
                header(b, a + ReadIn.SIZE, opcode, 16, 5);
                return a + ReadIn.SIZE;
            }
            default -> throw new IllegalArgumentException("opcode " + opcode);
        }
    }

    /** A FuseRequest over a ring entry's header and payload buffers, holding a LOOKUP. */
    static FuseRequest splitLookup(ByteBuffer header, ByteBuffer payload) {
        FuseRequest rq = new FuseRequest(header);
        rq.bindSplit(header, URING_OP_IN, 0, payload, 0, 0);
        payload.put(0, NAME);
        header(header, InHeader.SIZE + NAME.length, FuseOpcode.LOOKUP, 20, 1);
        return rq;
    }

    static ByteBuffer buffer(int size) {
        return NativeMemory.allocate(size);
    }
}
