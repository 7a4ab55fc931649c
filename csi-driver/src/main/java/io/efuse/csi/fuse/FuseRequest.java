package io.efuse.csi.fuse;

import io.efuse.csi.fuse.FuseStructs.InHeader;
import io.efuse.csi.sys.NativeMemory;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * One request as the kernel delivered it. The object and its buffers are reused for every request a
 * worker serves. In-arg offsets are relative to the first in-arg, as if all in-args followed the header
 * back to back — which they do on /dev/fuse. FUSE-over-io_uring delivers the per-opcode struct (the
 * first in-arg) and the rest (names, write data) in separate buffers; {@link #bindSplit} maps offsets
 * below the struct's size to the first and the others to the second, so filesystems see one layout.
 */
public final class FuseRequest {
    private final ByteBuffer buf;
    private final long address;
    private int length;
    private Object workerState;
    // Where in-args live: [0, split) in (argBuf at argBase), [split, argLength) in (payloadBuf at payloadBase).
    private ByteBuffer argBuf;
    private long argAddress;
    private int argBase;
    private ByteBuffer payloadBuf;
    private long payloadAddress;
    private int payloadBase;
    private int split = Integer.MAX_VALUE;
    private int argLength;

    /** A request living entirely in buf (header first), as /dev/fuse delivers it. */
    public FuseRequest(ByteBuffer buf) {
        this.buf = buf;
        this.address = NativeMemory.address(buf);
        this.argBuf = buf;
        this.argAddress = address;
        this.argBase = InHeader.SIZE;
    }

    /** Accepts a request of n bytes just read into the buffer; false if it is shorter than its header says. */
    boolean accept(int n) {
        if (n < InHeader.SIZE) {
            return false;
        }
        length = buf.getInt(InHeader.LEN);
        argLength = length - InHeader.SIZE;
        return length <= n && length >= InHeader.SIZE;
    }

    /** For transports and tests that place a contiguous request in the buffer themselves. */
    public boolean acceptContiguous(int n) {
        argBuf = buf;
        argAddress = address;
        argBase = InHeader.SIZE;
        split = Integer.MAX_VALUE;
        return accept(n);
    }

    /**
     * Binds a request whose header is in this object's buffer (at 0) and whose in-args are split: the
     * first {@code split} bytes at (opBuf, opBase), the remaining {@code payloadLength} at (payload, payloadBase).
     */
    public boolean bindSplit(ByteBuffer opBuf, int opBase, int split, ByteBuffer payload, int payloadBase,
            int payloadLength) {
        this.argBuf = opBuf;
        this.argAddress = NativeMemory.address(opBuf);
        this.argBase = opBase;
        this.split = split;
        this.payloadBuf = payload;
        this.payloadAddress = NativeMemory.address(payload);
        this.payloadBase = payloadBase;
        this.length = buf.getInt(InHeader.LEN);
        this.argLength = split + payloadLength;
        return true;
    }

    /**
     * Takes the next request delivered into the buffers already bound by {@link #bindSplit}, with its own
     * split and payload length. Allocates nothing, unlike bindSplit, which resolves buffer addresses.
     */
    public void nextSplit(int split, int payloadLength) {
        this.split = split;
        this.length = buf.getInt(InHeader.LEN);
        this.argLength = split + payloadLength;
    }

    /**
     * Per-worker state a filesystem keeps with the request object (scratch buffers, credentials): the
     * same request object always belongs to the same thread.
     */
    public Object workerState() { return workerState; }
    public void workerState(Object state) { this.workerState = state; }

    public ByteBuffer buffer() { return buf; }
    public long address() { return address; }
    public int length() { return length; }
    public int opcode() { return buf.getInt(InHeader.OPCODE); }
    public long unique() { return buf.getLong(InHeader.UNIQUE); }
    public long nodeId() { return buf.getLong(InHeader.NODEID); }
    public int uid() { return buf.getInt(InHeader.UID); }
    public int gid() { return buf.getInt(InHeader.GID); }
    public int pid() { return buf.getInt(InHeader.PID); }

    /** Bytes of in-args after the header. */
    public int argLength() { return argLength; }

    public int u32(int off) {
        return off < split ? argBuf.getInt(argBase + off) : payloadBuf.getInt(payloadBase + off - split);
    }

    /** Rewrites an in-arg (a replayed request answered with adjusted flags). */
    public void putU32(int off, int value) {
        if (off < split) {
            argBuf.putInt(argBase + off, value);
        } else {
            payloadBuf.putInt(payloadBase + off - split, value);
        }
    }

    public long u64(int off) {
        return off < split ? argBuf.getLong(argBase + off) : payloadBuf.getLong(payloadBase + off - split);
    }

    private byte byteAt(int off) {
        return off < split ? argBuf.get(argBase + off) : payloadBuf.get(payloadBase + off - split);
    }

    /** Native address of the in-arg byte at off: names and write data are passed to the kernel from here. */
    public long argAddress(int off) {
        return off < split ? argAddress + argBase + off : payloadAddress + payloadBase + off - split;
    }

    /** Length of the NUL-terminated string starting at in-arg offset off (bounded by the request). */
    public int stringLength(int off) {
        int i = off;
        while (i < argLength && byteAt(i) != 0) {
            i++;
        }
        return i - off;
    }

    /** The string at in-arg offset off, decoded (allocates: only for cold paths and messages). */
    public String string(int off) {
        int n = stringLength(off);
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = byteAt(off + i);
        }
        return new String(b, StandardCharsets.UTF_8);
    }

    /** The bytes of the NUL-terminated string at in-arg offset off, without the NUL (allocates). */
    public byte[] bytes(int off) {
        int n = stringLength(off);
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = byteAt(off + i);
        }
        return b;
    }

    /** True if the NUL-terminated string at in-arg offset off is exactly s (ASCII), without allocating. */
    public boolean stringEquals(int off, byte[] s) {
        if (off + s.length >= argLength) {
            return false;
        }
        for (int i = 0; i < s.length; i++) {
            if (byteAt(off + i) != s[i]) {
                return false;
            }
        }
        return byteAt(off + s.length) == 0;
    }

    /** True if the name at off is "." or "..": such names must never be resolved against the backing dir. */
    public boolean isDotOrDotDot(int off) {
        if (off >= argLength || byteAt(off) != '.') {
            return false;
        }
        byte b1 = off + 1 < argLength ? byteAt(off + 1) : 0;
        return b1 == 0 || (b1 == '.' && (off + 2 >= argLength || byteAt(off + 2) == 0));
    }
}
