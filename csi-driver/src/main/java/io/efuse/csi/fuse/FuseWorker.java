package io.efuse.csi.fuse;

import io.efuse.csi.sys.Errno;
import io.efuse.csi.sys.LibC;
import io.efuse.csi.sys.NativeMemory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A thread that serves one cloned /dev/fuse fd: read a request, dispatch it, write the reply. It owns
 * its request and reply buffers, so the loop allocates nothing.
 */
final class FuseWorker implements Runnable {
    private static final Logger LOG = LoggerFactory.getLogger(FuseWorker.class);

    private final FuseSession session;
    private final int fd;
    private final Thread thread;
    private final long[] counts = new long[FuseOpcode.LIMIT];
    /** Set by the session to shrink: the worker leaves after answering its next request. */
    private volatile boolean retiring;
    private boolean retired;

    FuseWorker(FuseSession session, int fd, int index) {
        this.session = session;
        this.fd = fd;
        this.thread = Thread.ofPlatform().daemon(true).name("fuse-" + session.mountPoint().getFileName() + "-" + index)
                .unstarted(this);
    }

    void start() {
        thread.start();
    }

    int fd() {
        return fd;
    }

    void retire() {
        retiring = true;
    }

    boolean retiring() {
        return retiring;
    }

    long[] counts() {
        return counts.clone();
    }

    @Override
    public void run() {
        FuseRequest rq = new FuseRequest(NativeMemory.allocateUntouched(FuseAbi.MIN_READ_BUFFER));
        FuseReply rp = new FuseReply(NativeMemory.allocateUntouched(session.replyBufferSize()));
        FuseFilesystem fs = session.filesystem();
        MutationGate gate = session.mutationGate();
        try {
            DeviceReaders readers = session.readers();
            while (true) {
                if (readers.stopping()) {
                    return; // handover: the next daemon reads the rest
                }
                long n = LibC.read(fd, rq.address(), rq.buffer().capacity());
                if (n < 0) {
                    int errno = LibC.errno();
                    if (errno == Errno.EAGAIN) {
                        readers.await(fd);
                        continue;
                    }
                    if (errno == Errno.EINTR || errno == Errno.ENOENT) {
                        continue; // ENOENT: the request was interrupted before we read it
                    }
                    if (errno != Errno.ENODEV) {
                        LOG.error("reading /dev/fuse for " + session.mountPoint() + ": "
                                + Errno.name(errno));
                    }
                    return; // ENODEV: unmounted or aborted
                }
                if (!rq.accept((int) n)) {
                    LOG.warn("short FUSE request of " + n + " bytes ignored");
                    continue;
                }
                int op = rq.opcode();
                if (op > 0 && op < counts.length) {
                    counts[op]++;
                }
                RequestDispatcher.dispatch(fs, gate, rq, rp);
                if (!rp.suppressed()) {
                    int w = FuseDevice.send(fd, rp);
                    // ENOENT: the request was interrupted meanwhile; the kernel no longer waits for it.
                    if (w < 0 && w != -Errno.ENOENT) {
                        if (w == -Errno.ENODEV) {
                            return;
                        }
                        LOG.warn("reply to FUSE " + FuseOpcode.name(op) + " failed: " + Errno.name(-w));
                    }
                }
                if (op == FuseOpcode.DESTROY) {
                    return;
                }
                if (retiring) {
                    // Its processing list is empty now (one request at a time), so closing its descriptor
                    // aborts nothing.
                    retired = true;
                    return;
                }
            }
        } finally {
            NativeMemory.free(rq.buffer());
            NativeMemory.free(rp.buffer());
            if (retired) {
                session.workerRetired(this);
            } else {
                session.workerExited(this);
            }
        }
    }
}
