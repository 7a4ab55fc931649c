package io.efuse.csi.fuse;

import static org.junit.jupiter.api.Assertions.*;

import io.efuse.csi.fuse.FuseStructs.InHeader;
import io.efuse.csi.fuse.FuseUringStructs.ReqHeader;
import io.efuse.csi.sys.NativeMemory;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** How a request split by FUSE-over-io_uring (op_in + payload) reads, and where its reply lands. */
class UringCodecTest {
    @Test
    void splitRequestReadsAsOneLayout() {
        ByteBuffer header = NativeMemory.allocate(ReqHeader.SIZE);
        ByteBuffer payload = NativeMemory.allocate(4096);
        FuseRequest rq = new FuseRequest(header);
        rq.bindSplit(header, ReqHeader.OP_IN, 0, payload, 0, 0);

        // CREATE: fuse_create_in (16 bytes) in op_in, the name in the payload.
        byte[] name = "hello.txt\0".getBytes(StandardCharsets.US_ASCII);
        header.putInt(InHeader.LEN, InHeader.SIZE + 16 + name.length).putInt(InHeader.OPCODE, FuseOpcode.CREATE)
                .putLong(InHeader.UNIQUE, 77).putLong(InHeader.NODEID, 1);
        header.putInt(ReqHeader.OP_IN, 0x41).putInt(ReqHeader.OP_IN + 4, 0644);
        payload.put(0, name);
        rq.nextSplit(16, name.length);
        assertEquals(FuseOpcode.CREATE, rq.opcode());
        assertEquals(77, rq.unique());
        assertEquals(0x41, rq.u32(0));
        assertEquals(0644, rq.u32(4));
        assertEquals("hello.txt", rq.string(16));
        assertEquals(NativeMemory.address(payload), rq.argAddress(16));
        assertEquals(16 + name.length, rq.argLength());

        // LOOKUP: no struct, the name alone in the payload.
        header.putInt(InHeader.LEN, InHeader.SIZE + 3).putInt(InHeader.OPCODE, FuseOpcode.LOOKUP);
        payload.put(0, "..\0".getBytes(StandardCharsets.US_ASCII));
        rq.nextSplit(0, 3);
        assertTrue(rq.isDotOrDotDot(0));
        assertEquals("..", rq.string(0));
    }

    @Test
    void replyHeaderLandsInTheInOutRegionAndPayloadInTheEntry() {
        ByteBuffer header = NativeMemory.allocate(ReqHeader.SIZE);
        ByteBuffer payload = NativeMemory.allocate(4096);
        FuseReply rp = new FuseReply(header);
        rp.bindPayload(payload, 0, 4096);
        rp.begin(99);
        rp.putU64(0, 0x1122334455667788L);
        rp.payloadLength(8);
        int len = rp.seal();
        assertEquals(24, len);
        assertEquals(99, header.getLong(8));
        assertEquals(0, header.getInt(4));
        assertEquals(0x1122334455667788L, payload.getLong(0));
        assertEquals(NativeMemory.address(payload), rp.payloadAddress());
    }

    @Test
    void negotiationAsksForUringOnlyWhenWantedAndOffered() {
        long offered = InitNegotiation.BASE_FLAGS | FuseAbi.OVER_IO_URING;
        assertNotEquals(0, new InitNegotiation(false, false, true).negotiate(7, 45, offered, 0).flags()
                & FuseAbi.OVER_IO_URING);
        assertEquals(0, new InitNegotiation(false, false, false).negotiate(7, 45, offered, 0).flags()
                & FuseAbi.OVER_IO_URING);
        assertEquals(0, new InitNegotiation(false, false, true).negotiate(7, 45, InitNegotiation.BASE_FLAGS, 0)
                .flags() & FuseAbi.OVER_IO_URING, "not offered: enable_uring is off");
        assertEquals(0, new InitNegotiation(false, false).withUring(true).withUring(false)
                .negotiate(7, 45, offered, 0).flags() & FuseAbi.OVER_IO_URING);
    }
}
