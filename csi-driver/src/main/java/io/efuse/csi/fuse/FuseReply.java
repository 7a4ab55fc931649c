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
    // The payload follows the header in buf for /dev/fuse; io_uring entries keep it in its own buffer.
    private ByteBuffer payload;
    private int payloadBase;
    private long payloadAddress;
    private int payloadCapacity;
    private long unique;
    private int payloadLength;
    private int error;
    private boolean suppressed;

    public FuseReply(ByteBuffer buf) {
        this.buf = buf;
        this.address = NativeMemory.address(buf);
        this.payload = buf;
        this.payloadBase = OutHeader.SIZE;
        this.payloadAddress = address + OutHeader.SIZE;
        this.payloadCapacity = buf.capacity() - OutHeader.SIZE;
    }

    /** Puts the payload in its own buffer (io_uring entries); the header stays at the start of buf. */
    public void bindPayload(ByteBuffer payloadBuf, int base, int capacity) {
        this.payload = payloadBuf;
        this.payloadBase = base;
        this.payloadAddress = NativeMemory.address(payloadBuf) + base;
        this.payloadCapacity = capacity;
    }

    public void begin(long unique) {
        this.unique = unique;
        this.payloadLength = 0;
        this.error = 0;
        this.suppressed = false;
    }

    public ByteBuffer buffer() { return buf; }
    public long address() { return address; }
    public int capacity() { return payloadCapacity; }

    /** Address where the payload starts. */
    public long payloadAddress() { return payloadAddress; }

    public void putU64(int off, long v) { payload.putLong(payloadBase + off, v); }
    public void putU32(int off, int v) { payload.putInt(payloadBase + off, v); }
    public void putU16(int off, int v) { payload.putShort(payloadBase + off, (short) v); }
    public void putByte(int off, byte v) { payload.put(payloadBase + off, v); }
    public int getU32(int off) { return payload.getInt(payloadBase + off); }
    public long getU64(int off) { return payload.getLong(payloadBase + off); }

    /** Zeroes n payload bytes from off (structs have padding and spare fields the kernel may read). */
    public void zero(int off, int n) {
        int p = payloadBase + off;
        int end = p + n;
        for (; p + 8 <= end; p += 8) {
            payload.putLong(p, 0);
        }
        for (; p < end; p++) {
            payload.put(p, (byte) 0);
        }
    }

    /** Copies n payload bytes from off into dst (reading back what an operation answered). */
    public void copyTo(int off, byte[] dst, int n) {
        payload.get(payloadBase + off, dst, 0, n);
    }

    public void copyFrom(ByteBuffer src, int srcPos, int off, int n) {
        payload.put(payloadBase + off, src, srcPos, n);
    }

    public void payloadLength(int n) { this.payloadLength = n; }
    public int payloadLength() { return payloadLength; }

    /** Marks this request as one that gets no reply (FORGET, interrupted, …). */
    public void suppress() { this.suppressed = true; }
    public boolean suppressed() { return suppressed; }

    void error(int errno) {
        this.error = errno;
        this.payloadLength = 0;
    }

    public int errorCode() { return error; }
    public long unique() { return unique; }

    /** Writes the out header; returns the total reply length (header and payload). */
    public int seal() {
        int len = OutHeader.SIZE + payloadLength;
        buf.putInt(OutHeader.LEN, len);
        buf.putInt(OutHeader.ERROR, -error);
        buf.putLong(OutHeader.UNIQUE, unique);
        return len;
    }
}
