package io.efuse.csi.fuse;

import io.efuse.csi.fuse.FuseStructs.OutHeader;
import io.efuse.csi.sys.NativeMemory;
import java.nio.ByteBuffer;

/**
 * The reply being built for the current request, in a worker-owned buffer reused for every request.
 * Payload offsets are relative to the end of the out header; READ data is written in place by the
 * filesystem through {@link #payloadAddress()} so file data is copied once, by the kernel.
 */
public final class FuseReply {
    private final ByteBuffer buf;
    private final long address;
    private long unique;
    private int payloadLength;
    private int error;
    private boolean suppressed;

    public FuseReply(ByteBuffer buf) {
        this.buf = buf;
        this.address = NativeMemory.address(buf);
    }

    void begin(long unique) {
        this.unique = unique;
        this.payloadLength = 0;
        this.error = 0;
        this.suppressed = false;
    }

    public ByteBuffer buffer() { return buf; }
    public long address() { return address; }
    public int capacity() { return buf.capacity() - OutHeader.SIZE; }

    /** Address where the payload starts. */
    public long payloadAddress() { return address + OutHeader.SIZE; }

    public void putU64(int off, long v) { buf.putLong(OutHeader.SIZE + off, v); }
    public void putU32(int off, int v) { buf.putInt(OutHeader.SIZE + off, v); }
    public void putU16(int off, int v) { buf.putShort(OutHeader.SIZE + off, (short) v); }
    public void putByte(int off, byte v) { buf.put(OutHeader.SIZE + off, v); }
    public int getU32(int off) { return buf.getInt(OutHeader.SIZE + off); }
    public long getU64(int off) { return buf.getLong(OutHeader.SIZE + off); }

    /** Zeroes n payload bytes from off (structs have padding and spare fields the kernel may read). */
    public void zero(int off, int n) {
        int p = OutHeader.SIZE + off;
        int end = p + n;
        for (; p + 8 <= end; p += 8) {
            buf.putLong(p, 0);
        }
        for (; p < end; p++) {
            buf.put(p, (byte) 0);
        }
    }

    public void copyFrom(ByteBuffer src, int srcPos, int off, int n) {
        buf.put(OutHeader.SIZE + off, src, srcPos, n);
    }

    public void payloadLength(int n) { this.payloadLength = n; }
    public int payloadLength() { return payloadLength; }

    /** Marks this request as one that gets no reply (FORGET, interrupted, …). */
    public void suppress() { this.suppressed = true; }
    boolean suppressed() { return suppressed; }

    void error(int errno) {
        this.error = errno;
        this.payloadLength = 0;
    }

    public int errorCode() { return error; }
    public long unique() { return unique; }

    /** Writes the out header; returns the total reply length. */
    int seal() {
        int len = OutHeader.SIZE + payloadLength;
        buf.putInt(OutHeader.LEN, len);
        buf.putInt(OutHeader.ERROR, -error);
        buf.putLong(OutHeader.UNIQUE, unique);
        return len;
    }
}
