package io.efuse.csi.bpf;

import com.sun.jna.Native;
import java.nio.file.Path;

/** An exclusive flock(2) on a bpffs directory, so that two processes never attach the same pins at once. */
final class PinLock implements AutoCloseable {

    private final int fd;

    private PinLock(int fd) {
        this.fd = fd;
    }

    static PinLock acquire(Path dir) {
        int fd = BpfLibc.INSTANCE.open(dir.toString(), BpfLibc.O_RDONLY | BpfLibc.O_DIRECTORY | BpfLibc.O_CLOEXEC);
        if (fd < 0) {
            throw new IllegalStateException("open " + dir + " to lock it: errno " + Native.getLastError());
        }
        if (BpfLibc.INSTANCE.flock(fd, BpfLibc.LOCK_EX) != 0) {
            int errno = Native.getLastError();
            BpfLibc.INSTANCE.close(fd);
            throw new IllegalStateException("flock " + dir + ": errno " + errno);
        }
        return new PinLock(fd);
    }

    @Override
    public void close() {
        BpfLibc.INSTANCE.close(fd); // releases the lock
    }
}
