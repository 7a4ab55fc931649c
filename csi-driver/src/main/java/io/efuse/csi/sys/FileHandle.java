package io.efuse.csi.sys;

import static io.efuse.csi.sys.LinuxConstants.*;

import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * A file handle (name_to_handle_at): names a file by identity, independent of paths and of the
 * process, so that another process can open the same file again (open_by_handle_at, needs
 * CAP_DAC_READ_SEARCH) after the one that looked it up is gone.
 */
public record FileHandle(int type, byte[] bytes) {
    /** MAX_HANDLE_SZ of the kernel. */
    public static final int MAX_BYTES = 128;

    public FileHandle {
        if (bytes.length > MAX_BYTES) {
            throw new IllegalArgumentException("file handle of " + bytes.length + " bytes");
        }
    }

    /** The handle of the file fd refers to (an O_PATH descriptor is enough). */
    public static FileHandle of(int fd) throws ErrnoException {
        ByteBuffer buf = NativeMemory.allocate(8 + MAX_BYTES + 8);
        ByteBuffer empty = NativeMemory.allocate(1);
        buf.putInt(0, MAX_BYTES);
        long a = NativeMemory.address(buf);
        if (LibC.name_to_handle_at(fd, NativeMemory.address(empty), a, a + 8 + MAX_BYTES, AT_EMPTY_PATH) < 0) {
            throw new ErrnoException("name_to_handle_at", "fd " + fd, LibC.errno());
        }
        int n = buf.getInt(0);
        byte[] b = new byte[n];
        buf.get(8, b);
        return new FileHandle(buf.getInt(4), b);
    }

    /** From a whole struct file_handle as name_to_handle_at wrote it (handle_bytes, handle_type, f_handle). */
    public static FileHandle ofStruct(byte[] struct) {
        ByteBuffer b = ByteBuffer.wrap(struct).order(java.nio.ByteOrder.nativeOrder());
        int n = b.getInt(0);
        if (n < 0 || 8 + n > struct.length) {
            throw new IllegalArgumentException("not a struct file_handle: " + struct.length + " bytes, " + n + " declared");
        }
        return new FileHandle(b.getInt(4), java.util.Arrays.copyOfRange(struct, 8, 8 + n));
    }

    /** Opens the file on the filesystem of mountFd (an open descriptor on it, not O_PATH: EBADF); returns the new descriptor. */
    public int open(int mountFd, int flags) throws ErrnoException {
        ByteBuffer buf = NativeMemory.allocate(8 + bytes.length);
        buf.putInt(0, bytes.length).putInt(4, type).put(8, bytes);
        int fd = LibC.open_by_handle_at(mountFd, NativeMemory.address(buf), flags | O_CLOEXEC);
        if (fd < 0) {
            throw new ErrnoException("open_by_handle_at", "handle type " + type, LibC.errno());
        }
        return fd;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof FileHandle h && h.type == type && Arrays.equals(h.bytes, bytes);
    }

    @Override
    public int hashCode() {
        return type * 31 + Arrays.hashCode(bytes);
    }
}
