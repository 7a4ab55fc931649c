package io.efuse.csi.sys;

import static io.efuse.csi.sys.LinuxConstants.*;

import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * Copies a file's data and leaves its holes as holes: SEEK_DATA and SEEK_HOLE find the extents that hold data
 * and only those are copied, so a mostly empty disk image costs what it holds, not its size. Ranges go through
 * copy_file_range (in the kernel, no copy through user memory); across filesystems that refuse it, through a
 * buffer.
 */
public final class SparseCopy {
    private static final int CHUNK = 1 << 20;

    private SparseCopy() {}

    /** Copies {@code source} into the existing, empty file {@code target}, then fsyncs it; returns bytes copied. */
    public static long copy(Path source, Path target) throws ErrnoException {
        int in = Syscalls.open(source, O_RDONLY | O_NOFOLLOW, 0);
        try {
            int out = Syscalls.open(target, O_WRONLY | O_NOFOLLOW, 0);
            try {
                long size = Syscalls.fstatx(in).size();
                if (LibC.ftruncate(out, size) < 0) {
                    throw new ErrnoException("ftruncate", target.toString(), LibC.errno());
                }
                long copied = 0;
                boolean kernelCopy = true;
                ByteBuffer buf = null;
                long off = 0;
                while (off < size) {
                    long data = seek(in, off, SEEK_DATA, source);
                    if (data < 0) {
                        break; // only a hole is left
                    }
                    long hole = Math.min(size, seek(in, data, SEEK_HOLE, source));
                    long pos = data;
                    while (pos < hole) {
                        long n = -1;
                        if (kernelCopy) {
                            n = copyFileRange(in, out, pos, hole - pos);
                            if (n < 0) {
                                kernelCopy = false;
                            }
                        }
                        if (!kernelCopy) {
                            if (buf == null) {
                                buf = NativeMemory.allocate(CHUNK);
                            }
                            n = copyThroughBuffer(in, out, pos, (int) Math.min(CHUNK, hole - pos), buf, source, target);
                        }
                        if (n == 0) {
                            break; // the source shrank under us: the rest reads as a hole
                        }
                        pos += n;
                        copied += n;
                    }
                    off = hole;
                }
                if (LibC.fsync(out) < 0) {
                    throw new ErrnoException("fsync", target.toString(), LibC.errno());
                }
                return copied;
            } finally {
                Syscalls.close(out);
            }
        } finally {
            Syscalls.close(in);
        }
    }

    /** The next data (or hole) offset at or after {@code offset}; -1 when there is no more data. */
    private static long seek(int fd, long offset, int whence, Path path) throws ErrnoException {
        long r = LibC.lseek(fd, offset, whence);
        if (r < 0) {
            int errno = LibC.errno();
            if (errno == Errno.ENXIO) {
                return -1;
            }
            throw new ErrnoException(whence == SEEK_DATA ? "lseek SEEK_DATA" : "lseek SEEK_HOLE", path.toString(),
                    errno);
        }
        return r;
    }

    /** Bytes copied, or -1 when this pair of files cannot use copy_file_range. */
    private static long copyFileRange(int in, int out, long pos, long len) throws ErrnoException {
        ByteBuffer offs = NativeMemory.allocate(16);
        offs.putLong(0, pos).putLong(8, pos);
        long a = NativeMemory.address(offs);
        long n = LibC.copy_file_range(in, a, out, a + 8, Math.min(len, 1L << 30), 0);
        if (n < 0) {
            int errno = LibC.errno();
            if (errno == Errno.EXDEV || errno == Errno.EINVAL || errno == Errno.EOPNOTSUPP
                    || errno == Errno.ENOSYS) {
                return -1;
            }
            throw new ErrnoException("copy_file_range", "fd " + out, errno);
        }
        return n;
    }

    private static long copyThroughBuffer(int in, int out, long pos, int len, ByteBuffer buf, Path source,
                                          Path target) throws ErrnoException {
        long a = NativeMemory.address(buf);
        long n = LibC.pread(in, a, len, pos);
        if (n < 0) {
            throw new ErrnoException("pread", source.toString(), LibC.errno());
        }
        for (long done = 0; done < n; ) {
            long w = LibC.pwrite(out, a + done, n - done, pos + done);
            if (w < 0) {
                throw new ErrnoException("pwrite", target.toString(), LibC.errno());
            }
            done += w;
        }
        return n;
    }
}
