package io.efuse.csi.fuse;

import static io.efuse.csi.sys.LinuxConstants.*;

import io.efuse.csi.sys.Errno;
import io.efuse.csi.sys.LibC;
import io.efuse.csi.sys.NativeMemory;
import java.nio.ByteBuffer;

/**
 * Lets a session's workers be stopped without unmounting or aborting the connection. A blocking read
 * of /dev/fuse cannot be woken from another thread (closing the fd does not wake it, and the last
 * close would end the requests in flight), so the device descriptors are non-blocking: a worker reads
 * until the queue is empty, then polls the device together with an eventfd that {@link #stop} makes
 * readable. Under load the read path is unchanged; only an idle worker pays the poll.
 */
final class DeviceReaders {
    private final int stopFd;
    private volatile boolean stopping;
    private final ThreadLocal<ByteBuffer> pollFds = ThreadLocal.withInitial(() -> NativeMemory.allocate(16));

    DeviceReaders() {
        stopFd = LibC.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (stopFd < 0) {
            throw new IllegalStateException("eventfd: " + Errno.name(LibC.errno()));
        }
    }

    /** Makes fd non-blocking (the flag lives on the open file, shared with any other holder of it). */
    void prepare(int fd) {
        int fl = LibC.fcntl(fd, F_GETFL, 0);
        if (fl >= 0 && (fl & O_NONBLOCK) == 0) {
            LibC.fcntl(fd, F_SETFL, fl | O_NONBLOCK);
        }
    }

    boolean stopping() {
        return stopping;
    }

    /** Waits until fd has a request (or an error to read) or {@link #stop} was called. */
    void await(int fd) {
        ByteBuffer p = pollFds.get();
        p.putInt(0, fd).putShort(4, POLLIN).putShort(6, (short) 0);
        p.putInt(8, stopFd).putShort(12, POLLIN).putShort(14, (short) 0);
        LibC.poll(NativeMemory.address(p), 2, -1);
    }

    void stop() {
        stopping = true;
        ByteBuffer one = NativeMemory.allocate(8);
        one.putLong(0, 1);
        LibC.write(stopFd, NativeMemory.address(one), 8);
    }

    void close() {
        LibC.close(stopFd);
    }
}
