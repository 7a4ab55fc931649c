package io.efuse.csi.sys;

import com.sun.jna.Native;
import com.sun.jna.Pointer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/** Direct buffers in native byte order, their addresses, and C strings in them. */
public final class NativeMemory {
    private NativeMemory() {}

    /** A direct, native-order buffer; the caller owns it for its lifetime (it is never freed early). */
    public static ByteBuffer allocate(int size) {
        return ByteBuffer.allocateDirect(size).order(ByteOrder.nativeOrder());
    }

    /**
     * A direct, native-order buffer from malloc, not zeroed: large request buffers cost resident memory
     * only for the pages a request actually touches. The caller must {@link #free} it exactly once.
     */
    public static ByteBuffer allocateUntouched(int size) {
        long p = Native.malloc(size);
        if (p == 0) {
            throw new OutOfMemoryError("malloc(" + size + ") failed");
        }
        return new Pointer(p).getByteBuffer(0, size).order(ByteOrder.nativeOrder());
    }

    /** Frees a buffer from {@link #allocateUntouched}. */
    public static void free(ByteBuffer buf) {
        Native.free(address(buf));
    }

    public static long address(ByteBuffer direct) {
        if (!direct.isDirect()) {
            throw new IllegalArgumentException("not a direct buffer");
        }
        return Pointer.nativeValue(Native.getDirectBufferPointer(direct));
    }

    /** A new direct buffer holding the NUL-terminated UTF-8 bytes of s (for paths off the hot path). */
    public static ByteBuffer cString(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        for (byte x : b) {
            if (x == 0) {
                throw new IllegalArgumentException("NUL byte in " + s);
            }
        }
        ByteBuffer buf = allocate(b.length + 1);
        buf.put(b).put((byte) 0).flip();
        return buf;
    }

    /** Reads a NUL-terminated string from absolute position pos of buf. */
    public static String readCString(ByteBuffer buf, int pos, int limit) {
        int end = pos;
        while (end < limit && buf.get(end) != 0) {
            end++;
        }
        byte[] b = new byte[end - pos];
        buf.get(pos, b);
        return new String(b, StandardCharsets.UTF_8);
    }

    /**
     * Writes "/proc/self/fd/N" NUL-terminated at absolute position pos of buf, without allocating,
     * and returns its address. O_PATH descriptors reach chmod/xattr/truncate through this magic link.
     */
    public static long procFdPath(ByteBuffer buf, long bufAddress, int pos, int fd) {
        final byte[] prefix = PROC_SELF_FD;
        int p = pos;
        for (byte b : prefix) {
            buf.put(p++, b);
        }
        if (fd == 0) {
            buf.put(p++, (byte) '0');
        } else {
            int digits = 0;
            for (int v = fd; v > 0; v /= 10) {
                digits++;
            }
            for (int i = digits - 1, v = fd; i >= 0; i--, v /= 10) {
                buf.put(p + i, (byte) ('0' + v % 10));
            }
            p += digits;
        }
        buf.put(p, (byte) 0);
        return bufAddress + pos;
    }

    private static final byte[] PROC_SELF_FD = "/proc/self/fd/".getBytes(StandardCharsets.US_ASCII);
}
