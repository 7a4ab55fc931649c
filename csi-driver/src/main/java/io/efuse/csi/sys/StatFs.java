package io.efuse.csi.sys;

import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * struct statfs of a mounted filesystem (64-bit Linux: eleven longs then spare). Block counts are in
 * {@code fragmentSize} units.
 */
public record StatFs(long type, long blockSize, long blocks, long blocksFree, long blocksAvailable, long files,
                     long filesFree, long fragmentSize) {
    static final int SIZE = 120;

    public static StatFs of(Path path) throws ErrnoException {
        int fd = Syscalls.open(path, LinuxConstants.O_PATH, 0);
        try {
            ByteBuffer b = NativeMemory.allocate(SIZE);
            if (LibC.fstatfs(fd, NativeMemory.address(b)) < 0) {
                throw new ErrnoException("statfs", path.toString(), LibC.errno());
            }
            return new StatFs(b.getLong(0), b.getLong(8), b.getLong(16), b.getLong(24), b.getLong(32),
                    b.getLong(40), b.getLong(48), b.getLong(72));
        } finally {
            Syscalls.close(fd);
        }
    }

    public long bytesTotal() {
        return blocks * fragmentSize;
    }

    public long bytesUsed() {
        return (blocks - blocksFree) * fragmentSize;
    }

    public long bytesAvailable() {
        return blocksAvailable * fragmentSize;
    }
}
