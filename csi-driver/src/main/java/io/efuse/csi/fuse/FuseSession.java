package io.efuse.csi.fuse;

import io.efuse.csi.sys.Errno;
import io.efuse.csi.sys.MountTable;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One mounted FUSE filesystem served from /dev/fuse: mounts, answers INIT, then runs worker threads
 * that each read requests from their own cloned device fd and dispatch them to the filesystem.
 * The device and the mount are {@link FuseDevice}, the handshake {@link InitHandshake}, the threads
 * {@link WorkerPool}; this class is their life cycle behind one API.
 */
public final class FuseSession implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(FuseSession.class);

    /** How a session is mounted and served. */
    public record Options(String fsName, String subtype, int workers, boolean readOnly, long extraMountFlags,
            InitNegotiation negotiation, UringQueues uring) {
        public Options(String fsName, String subtype, int workers, boolean readOnly, long extraMountFlags,
                InitNegotiation negotiation) {
            this(fsName, subtype, workers, readOnly, extraMountFlags, negotiation, UringQueues.OFF);
        }
    }

    private final Path mountPoint;
    private final FuseFilesystem fs;
    private final int deviceFd;
    private final WorkerPool pool;
    private final CountDownLatch terminated;
    private volatile boolean closing;
    private FuseConnection connection;
    private InitNegotiation.Result init;
    private InitNegotiation negotiation;
    private FuseNotifier notifier;
    /** Stops the /dev/fuse workers without touching the connection (planned handover); see {@link DeviceReaders}. */
    private final DeviceReaders readers = new DeviceReaders();
    private final MutationGate mutationGate = new MutationGate();

    private FuseSession(Path mountPoint, FuseFilesystem fs, Options options, int deviceFd) {
        this.mountPoint = mountPoint;
        this.fs = fs;
        this.deviceFd = deviceFd;
        this.pool = new WorkerPool(this, deviceFd, options);
        this.terminated = new CountDownLatch(1);
    }

    /**
     * Opens /dev/fuse, mounts it at mountPoint, negotiates INIT and starts the workers. Returns once
     * the filesystem is ready to serve requests.
     */
    public static FuseSession mount(Path mountPoint, FuseFilesystem fs, Options options) throws IOException {
        boolean wantUring = options.uring().want();
        if (wantUring) {
            String unavailable = FuseUringTransport.unavailableReason(options.uring().enableSwitch());
            if (unavailable != null) {
                if (options.uring().required()) {
                    throw new UringUnavailableException("FUSE-over-io_uring cannot run: " + unavailable);
                }
                LOG.info("{}: serving over /dev/fuse: {}", mountPoint, unavailable);
                wantUring = false;
            }
        }
        int fd = FuseDevice.open();
        FuseSession session = new FuseSession(mountPoint, fs, options, fd);
        session.negotiation = options.negotiation().withUring(wantUring);
        FuseDevice.mount(fd, mountPoint, options);
        try {
            session.initialized(InitHandshake.run(fd, session.negotiation));
            session.pool.startUring(wantUring, session.init);
            session.pool.startWorkers();
        } catch (IOException | RuntimeException e) {
            FuseDevice.abortAfterFailedStart(mountPoint, fd);
            throw e;
        }
        return session;
    }

    /** Takes what INIT settled: the connection, its notifier, the filesystem's start. */
    private void initialized(InitHandshake.Agreed agreed) throws IOException {
        InitNegotiation.Result r = agreed.result();
        this.init = r;
        long connectionId = MountTable.find(mountPoint).map(e -> (long) e.minor()).orElse(-1L);
        this.connection = new FuseConnection(deviceFd, r.minor(), r.flags(), r.maxWrite(), connectionId);
        this.notifier = new FuseNotifier(deviceFd);
        fs.init(connection);
        LOG.info("mounted {}: FUSE {}.{} negotiated (kernel offers 7.{}), passthrough={},"
                + " writeback={}, max_write={}, connection {}", mountPoint, r.major(), r.minor(), agreed.kernelMinor(),
                connection.passthrough(), connection.writebackCache(), r.maxWrite(), connectionId);
        // Which capability a feature hangs on, when the summary above does not say why it is off.
        LOG.debug("{}: INIT flags offered by the kernel 0x{}, agreed 0x{}; max_readahead {}, max_pages {}",
                mountPoint, Long.toHexString(agreed.kernelFlags()), Long.toHexString(r.flags()), r.maxReadahead(),
                r.maxPages());
    }

    /**
     * Serves a connection that another process mounted and initialized (a daemon restarted while the
     * fd keeper held its device descriptors): no mount and no INIT, the negotiated parameters come
     * from the previous daemon. deviceFds are the connection's device descriptors (the first is the
     * one mount used, the others its clones); the session owns them from here on. Requests the
     * previous daemon had read but not answered are asked for again (FUSE_NOTIFY_RESEND).
     */
    public static FuseSession adopt(Path mountPoint, FuseFilesystem fs, Options options, int[] deviceFds,
            InitNegotiation.Result init, long connectionId) throws IOException {
        if (deviceFds.length == 0) {
            throw new IllegalArgumentException("no device descriptors to serve " + mountPoint);
        }
        FuseSession session = new FuseSession(mountPoint, fs, options, deviceFds[0]);
        session.negotiation = options.negotiation();
        session.init = init;
        session.connection = new FuseConnection(deviceFds[0], init.minor(), init.flags(), init.maxWrite(), connectionId);
        session.notifier = new FuseNotifier(deviceFds[0]);
        fs.init(session.connection);
        session.pool.adopt(deviceFds);
        // Resend before any worker reads: it re-queues everything in the processing lists, which then
        // hold only what the previous daemon read; a request of ours would be executed twice.
        int err = session.notifier.resend();
        session.pool.startReading();
        LOG.info("{}: adopted connection {} with {} device descriptors; resend {}",
                mountPoint, connectionId, deviceFds.length, err == 0 ? "asked" : "failed: " + Errno.name(err));
        return session;
    }

    /** Every /dev/fuse descriptor this session reads from (the mount's own first, then its clones). */
    public int[] deviceFds() {
        return pool.deviceFds();
    }

    /**
     * Tells listener the new set of device descriptors whenever workers come or go, before a new worker
     * reads its first request and after a retired one closed its descriptor: an fd keeper must hold every
     * device file that may have requests in its processing list (the kernel ends those with ECONNABORTED
     * when the file's last reference goes), and should let go of the ones no worker reads any more.
     */
    public void onDevicesChanged(java.util.function.Consumer<int[]> listener) {
        pool.onDevicesChanged(listener);
    }

    /** What INIT settled (to be kept by whoever may serve this connection next). */
    public InitNegotiation.Result negotiated() {
        return init;
    }

    /**
     * Planned handover: stops reading requests, lets the workers finish the ones they hold, then
     * closes this process's device descriptors without unmounting or aborting. The connection lives
     * on as long as another process holds a descriptor of it; requests wait in the kernel's queue
     * for the next reader. Returns false if the workers did not stop within the timeout.
     */
    public boolean detach(long timeout, TimeUnit unit) throws InterruptedException {
        if (pool.uring() != null) {
            throw new IllegalStateException(mountPoint + ": a session served over io_uring cannot be handed over");
        }
        readers.stop();
        if (!readers.wake(mountPoint, pool.liveMembers())) {
            LOG.warn("{}: cannot open the mount's root to wake the workers; each stops after its"
                    + " next request", mountPoint);
        }
        return terminated.await(timeout, unit);
    }

    DeviceReaders readers() {
        return readers;
    }

    FuseFilesystem filesystem() {
        return fs;
    }

    /** What holds back the requests that change the volume while a group snapshot takes it. */
    public MutationGate mutationGate() {
        return mutationGate;
    }

    int replyBufferSize() {
        return init.maxWrite() + 4096;
    }

    void workerExited(FuseWorker w) {
        pool.workerExited(w);
    }

    /** A worker that left to shrink the session: its descriptor goes, its counts stay. */
    void workerRetired(FuseWorker w) {
        pool.workerRetired(w);
    }

    /**
     * Grows and shrinks the /dev/fuse workers between min and max as the advisor says (asked every
     * 500 ms): the stock-kernel form of eFuse's load balancing. Growing clones the device; shrinking lets
     * a worker finish its next request and leave. Does nothing while io_uring queues serve the mount.
     */
    public synchronized void scaleWorkers(WorkerAdvisor advisor, int min, int max) {
        pool.scale(advisor, min, max);
    }

    /** Threads other than the device workers (io_uring queues) that the session must outlive. */
    void membersStarting(int n) {
        pool.membersStarting(n);
    }

    void memberExited() {
        pool.memberExited();
    }

    /** The last worker or queue left: the filesystem ends, and so do the descriptors. */
    void ended() {
        try {
            LOG.info("{} ended; requests served: {}", mountPoint, OpcodeCounts.describe(opcodeCounts()));
            fs.destroy();
        } finally {
            pool.closeDescriptors();
            readers.close();
            terminated.countDown();
        }
    }

    boolean closing() {
        return closing;
    }

    public Path mountPoint() { return mountPoint; }
    public FuseConnection connection() { return connection; }
    public FuseNotifier notifier() { return notifier; }
    public int workerCount() { return pool.activeWorkers(); }
    /** True if requests are served over FUSE-over-io_uring queues (besides FORGET/INTERRUPT on /dev/fuse). */
    public boolean uringActive() { return pool.uring() != null; }
    public int uringQueueCount() { FuseUringTransport u = pool.uring(); return u == null ? 0 : u.queueCount(); }

    /** Requests served by the io_uring queues since the mount (0 on /dev/fuse alone). */
    public long uringRequests() {
        return OpcodeCounts.uringRequests(pool.uring());
    }
    public boolean alive() { return terminated.getCount() > 0; }

    /** Requests served per opcode since the mount, summed over workers. */
    public long[] opcodeCounts() {
        return pool.opcodeCounts();
    }

    public void awaitTermination() throws InterruptedException {
        terminated.await();
    }

    public boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
        return terminated.await(timeout, unit);
    }

    /** How long {@link #close()} lets the workers stop by themselves before it aborts the connection. */
    private static final Duration CLOSE_GRACE = Duration.ofSeconds(5);
    /** The part of a close's grace kept for the workers to leave once the connection is aborted. */
    private static final Duration AFTER_ABORT = Duration.ofSeconds(1);

    /** {@link #close(Duration)} with a grace of 5 s. */
    @Override
    public void close() {
        close(CLOSE_GRACE.plus(AFTER_ABORT));
    }

    /**
     * Unmounts and waits for the workers to stop, returning within grace. A busy mount is detached (it
     * disappears from the namespace and ends when its last user closes). The workers end by themselves only when
     * the connection's last mount goes: if another mount of it is still in the mount table (a bind of this one
     * that its owner did not remove first), nothing is waited for and the connection is aborted at once; else
     * it is aborted when the grace is nearly over, so that nothing hangs.
     */
    public void close(Duration grace) {
        long end = System.nanoTime() + grace.toNanos();
        closing = true;
        if (!alive()) {
            return;
        }
        FuseDevice.unmount(mountPoint);
        long afterAbort = Math.min(AFTER_ABORT.toNanos(), grace.toNanos() / 4);
        try {
            if (FuseDevice.stillMountedElsewhere(connection)) {
                LOG.info("{}: the connection is still mounted elsewhere; aborting it", mountPoint);
            } else if (terminated.await(end - afterAbort - System.nanoTime(), TimeUnit.NANOSECONDS)) {
                return;
            } else {
                LOG.info("{}: the connection is still in use at the end of the grace; aborting it", mountPoint);
            }
            FuseDevice.abortConnection(connection);
            terminated.await(end - System.nanoTime(), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
