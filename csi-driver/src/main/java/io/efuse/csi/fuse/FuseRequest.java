package io.efuse.csi.fuse;

import io.efuse.csi.fuse.FuseStructs.InHeader;
import io.efuse.csi.sys.NativeMemory;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * One request as the kernel wrote it into a worker's buffer. The object and its buffer are reused for
 * every request the worker reads; argument accessors take offsets relative to the first in-arg.
 */
public final class FuseRequest {
    private final ByteBuffer buf;
    private final long address;
    private int length;
    private Object workerState;

    public FuseRequest(ByteBuffer buf) {
        this.buf = buf;
        this.address = NativeMemory.address(buf);
    }

    /** Accepts a request of n bytes just read into the buffer; false if it is shorter than its header says. */
    boolean accept(int n) {
        if (n < InHeader.SIZE) {
            return false;
        }
        length = buf.getInt(InHeader.LEN);
        return length <= n && length >= InHeader.SIZE;
    }

    /** For transports that place requests themselves (tests, io_uring). */
    public boolean acceptForTest(int n) {
        return accept(n);
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
    public int argLength() { return length - InHeader.SIZE; }

    public int u32(int off) { return buf.getInt(InHeader.SIZE + off); }
    public long u64(int off) { return buf.getLong(InHeader.SIZE + off); }
    public int u16(int off) { return buf.getShort(InHeader.SIZE + off) & 0xffff; }

    /** Native address of the in-arg byte at off: names and write data are passed to the kernel from here. */
    public long argAddress(int off) { return address + InHeader.SIZE + off; }

    /** Length of the NUL-terminated string starting at in-arg offset off (bounded by the request). */
    public int stringLength(int off) {
        int start = InHeader.SIZE + off;
        int i = start;
        while (i < length && buf.get(i) != 0) {
            i++;
        }
        return i - start;
    }

    /** The string at in-arg offset off, decoded (allocates: only for cold paths and messages). */
    public String string(int off) {
        int n = stringLength(off);
        byte[] b = new byte[n];
        buf.get(InHeader.SIZE + off, b);
        return new String(b, StandardCharsets.UTF_8);
    }

    /** True if the name at off is "." or "..": such names must never be resolved against the backing dir. */
    public boolean isDotOrDotDot(int off) {
        int p = InHeader.SIZE + off;
        if (buf.get(p) != '.') {
            return false;
        }
        byte b1 = buf.get(p + 1);
        return b1 == 0 || (b1 == '.' && buf.get(p + 2) == 0);
    }
}
