package io.efuse.csi.fuse;

import io.efuse.csi.sys.Syscalls;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The threads that serve a session: the /dev/fuse workers (started, grown and shrunk, each on its own cloned
 * descriptor) and the io_uring queues when INIT agreed on them. Counts the members alive and ends the session
 * when the last one leaves.
 */
final class WorkerPool {
    /** Logs as the session: these lines are the session's, and operators and tests know them by that name. */
    private static final Logger LOG = LoggerFactory.getLogger(FuseSession.class);

    private final FuseSession session;
    private final int deviceFd;
    private final FuseSession.Options options;
    private final List<FuseWorker> workers = new CopyOnWriteArrayList<>();
    private final OpcodeCounts counts = new OpcodeCounts();
    private final AtomicInteger liveWorkers = new AtomicInteger();
    private volatile Thread scaler;
    private volatile Consumer<int[]> devicesChanged = fds -> { };
    private volatile FuseUringTransport uring;

    WorkerPool(FuseSession session, int deviceFd, FuseSession.Options options) {
        this.session = session;
        this.deviceFd = deviceFd;
        this.options = options;
    }

    /** A worker for each of another daemon's descriptors; {@link #startReading} starts them. */
    void adopt(int[] deviceFds) {
        for (int i = 0; i < deviceFds.length; i++) {
            workers.add(new FuseWorker(session, deviceFds[i], i));
        }
        liveWorkers.addAndGet(workers.size());
    }

    void startReading() {
        for (FuseWorker w : workers) {
            session.readers().prepare(w.fd());
            w.start();
        }
    }

    /**
     * Starts the io_uring queues if INIT agreed on them. Until every queue has registered, the kernel
     * holds new requests back; if a queue cannot register, it falls back to /dev/fuse by itself.
     */
    void startUring(boolean wanted, InitNegotiation.Result init) throws IOException {
        boolean negotiated = (init.flags() & FuseAbi.OVER_IO_URING) != 0;
        if (!negotiated) {
            if (wanted && options.uring().required()) {
                throw new UringUnavailableException("FUSE-over-io_uring cannot run: the kernel did not offer"
                        + " FUSE_OVER_IO_URING in INIT (enable_uring off, or FUSE protocol 7." + init.minor()
                        + " is older than 7.42)");
            }
            return;
        }
        // The kernel refuses entries smaller than max(FUSE_MIN_READ_BUFFER, max_write, max_pages pages).
        int payload = Math.max(8192, Math.max(init.maxWrite(), init.maxPages() * 4096));
        Path mountPoint = session.mountPoint();
        try {
            uring = FuseUringTransport.start(session, session.filesystem(), deviceFd, options.uring().entriesPerQueue(),
                    payload);
            LOG.info("{}: serving over io_uring: {} queues ({} pinned to their CPU), {} entries each,"
                    + " /dev/fuse workers for FORGET and INTERRUPT", mountPoint, uring.queueCount(),
                    uring.pinnedCount(), options.uring().entriesPerQueue());
        } catch (IOException e) {
            if (options.uring().required()) {
                throw new UringUnavailableException("FUSE-over-io_uring cannot run: " + e.getMessage(), e);
            }
            LOG.warn("{}: serving over /dev/fuse: {}", mountPoint, e.getMessage());
        }
    }

    void startWorkers() throws IOException {
        int n = Math.max(1, options.workers());
        for (int i = 0; i < n; i++) {
            int fd = i == 0 ? deviceFd : FuseDevice.clone(deviceFd);
            FuseWorker w = new FuseWorker(session, fd, i);
            workers.add(w);
        }
        liveWorkers.addAndGet(workers.size());
        if (uring == null) {
            LOG.info("{}: serving over /dev/fuse: {} workers", session.mountPoint(), workers.size());
        }
        startReading();
    }

    int[] deviceFds() {
        return workers.stream().mapToInt(FuseWorker::fd).toArray();
    }

    void onDevicesChanged(Consumer<int[]> listener) {
        devicesChanged = listener;
    }

    private void announceDevices() {
        try {
            devicesChanged.accept(deviceFds());
        } catch (RuntimeException e) {
            LOG.warn("{}: telling the fd keeper about the device descriptors: {}", session.mountPoint(),
                    e.getMessage());
        }
    }

    void workerExited(FuseWorker w) {
        memberExited();
    }

    /** A worker that left to shrink the session: its descriptor goes, its counts stay. */
    void workerRetired(FuseWorker w) {
        counts.addRetired(w);
        workers.remove(w);
        Syscalls.close(w.fd());
        announceDevices();
        memberExited();
    }

    /** See {@link FuseSession#scaleWorkers}; the caller holds the session's lock. */
    void scale(WorkerAdvisor advisor, int min, int max) {
        if (min < 1 || max < min) {
            throw new IllegalArgumentException("worker bounds must satisfy 1 <= min <= max, not " + min + ".." + max);
        }
        if (scaler != null || uring != null) {
            return;
        }
        Path mountPoint = session.mountPoint();
        scaler = Thread.ofPlatform().daemon(true).name("fuse-scaler-" + mountPoint.getFileName()).start(() -> {
            while (session.alive() && !session.closing() && !session.readers().stopping()) {
                try {
                    Thread.sleep(500);
                    resize(Math.clamp(advisor.desiredWorkers(activeWorkers()), min, max));
                } catch (InterruptedException e) {
                    return;
                } catch (IOException | RuntimeException e) {
                    LOG.warn("{}: resizing workers failed: {}", mountPoint, e.getMessage());
                }
            }
        });
    }

    int activeWorkers() {
        int n = 0;
        for (FuseWorker w : workers) {
            if (!w.retiring()) {
                n++;
            }
        }
        return n;
    }

    private void resize(int want) throws IOException {
        int have = activeWorkers();
        java.util.List<FuseWorker> added = new java.util.ArrayList<>();
        for (int i = have; i < want && !session.closing() && !session.readers().stopping(); i++) {
            int fd = FuseDevice.clone(deviceFd);
            FuseWorker w = new FuseWorker(session, fd, workers.size());
            liveWorkers.incrementAndGet();
            workers.add(w);
            added.add(w);
        }
        if (!added.isEmpty()) {
            announceDevices();
            for (FuseWorker w : added) {
                session.readers().prepare(w.fd());
                w.start();
            }
        }
        // Worker 0 reads the mount's own descriptor and never leaves.
        for (int i = workers.size() - 1; i > 0 && have > want; i--) {
            FuseWorker w = workers.get(i);
            if (!w.retiring()) {
                w.retire();
                have--;
            }
        }
    }

    /** Threads other than the device workers (io_uring queues) that the session must outlive. */
    void membersStarting(int n) {
        liveWorkers.addAndGet(n);
    }

    void memberExited() {
        if (liveWorkers.decrementAndGet() == 0) {
            session.ended();
        }
    }

    /** Threads serving now (workers and queues), for waking the workers of a handover. */
    int liveMembers() {
        return liveWorkers.get();
    }

    /** Closes every worker's descriptor, once the last member left. */
    void closeDescriptors() {
        for (FuseWorker x : workers) {
            Syscalls.close(x.fd());
        }
    }

    FuseUringTransport uring() {
        return uring;
    }

    long[] opcodeCounts() {
        return counts.sum(workers, uring);
    }
}
