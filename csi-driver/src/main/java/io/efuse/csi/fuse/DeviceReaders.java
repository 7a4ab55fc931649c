package io.efuse.csi.fuse;

import static io.efuse.csi.sys.LinuxConstants.*;

import io.efuse.csi.sys.Errno;
import io.efuse.csi.sys.ErrnoException;
import io.efuse.csi.sys.LibC;
import io.efuse.csi.sys.NativeMemory;
import io.efuse.csi.sys.Syscalls;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * Lets a session's workers be stopped without unmounting or aborting the connection. Workers block in
 * read(2), where the kernel wakes exactly one of them per request; polling would wake every idle worker
 * for each request, and on a virtual machine those wakeups cost as much as the request itself. A read
 * blocked on /dev/fuse cannot be woken from another thread (closing the descriptor does not do it, and
 * the last close would end the requests in flight), so {@link #wake} has the kernel send requests of
 * our own: each statfs of the mount's root is read by one worker, which answers it and then sees the
 * stop. A descriptor someone made non-blocking (the flag lives on the open file, which other holders
 * share) still stops: an empty read polls the device together with an eventfd that {@link #stop} makes
 * readable.
 */
final class DeviceReaders {
    /** sizeof(struct statfs) on 64-bit Linux, rounded up. */
    private static final int STATFS_SIZE = 128;
    private final int stopFd;
    private volatile boolean stopping;
    private final ThreadLocal<ByteBuffer> pollFds = ThreadLocal.withInitial(() -> NativeMemory.allocate(16));

    DeviceReaders() {
        stopFd = LibC.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (stopFd < 0) {
            throw new IllegalStateException("eventfd: " + Errno.name(LibC.errno()));
        }
    }

    /** Makes reads of fd block (a previous daemon may have left the shared open file non-blocking). */
    void prepare(int fd) {
        int fl = LibC.fcntl(fd, F_GETFL, 0);
        if (fl >= 0 && (fl & O_NONBLOCK) != 0) {
            LibC.fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
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

    /**
     * After {@link #stop}: sends one statfs of mountPoint's root per worker that may be blocked in a read,
     * each from a thread of its own. A worker that reads an application's request instead stops after
     * answering it, so a statfs may be left in the queue; its thread then waits for the next daemon (or
     * this process's exit), which is why nobody waits for these threads. Returns false, having sent
     * nothing, when the root cannot be opened (the workers then stop at their next request).
     */
    boolean wake(Path mountPoint, int workers) {
        try {
            Syscalls.close(openRoot(mountPoint));
        } catch (ErrnoException e) {
            return false;
        }
        for (int i = 0; i < workers; i++) {
            Thread.ofPlatform().daemon(true).name("fuse-wake-" + mountPoint.getFileName() + "-" + i).start(() -> {
                ByteBuffer statfs = NativeMemory.allocate(STATFS_SIZE);
                try {
                    int root = openRoot(mountPoint);
                    LibC.fstatfs(root, NativeMemory.address(statfs));
                    Syscalls.close(root);
                } catch (ErrnoException ignored) {
                    // unmounted meanwhile: the workers saw ENODEV
                }
            });
        }
        return true;
    }

    /** The mount's root without a FUSE request: O_PATH opens nothing, and the root needs no LOOKUP. */
    private static int openRoot(Path mountPoint) throws ErrnoException {
        return Syscalls.open(mountPoint, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
    }

    void close() {
        LibC.close(stopFd);
    }
}
