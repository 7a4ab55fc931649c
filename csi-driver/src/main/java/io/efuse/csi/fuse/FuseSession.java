package io.efuse.csi.fuse;

import static io.efuse.csi.sys.LinuxConstants.*;

import io.efuse.csi.fuse.FuseStructs.InHeader;
import io.efuse.csi.fuse.FuseStructs.InitIn;
import io.efuse.csi.fuse.FuseStructs.InitOut;
import io.efuse.csi.sys.Errno;
import io.efuse.csi.sys.ErrnoException;
import io.efuse.csi.sys.LibC;
import io.efuse.csi.sys.MountTable;
import io.efuse.csi.sys.NativeMemory;
import io.efuse.csi.sys.Syscalls;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One mounted FUSE filesystem served from /dev/fuse: mounts, answers INIT, then runs worker threads
 * that each read requests from their own cloned device fd and dispatch them to the filesystem.
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
    private final Options options;
    private final int deviceFd;
    private final List<FuseWorker> workers = new CopyOnWriteArrayList<>();
    private final long[] retiredCounts = new long[FuseOpcode.LIMIT];
    private volatile Thread scaler;
    private volatile java.util.function.Consumer<int[]> devicesChanged = fds -> { };
    private final CountDownLatch terminated;
    private final AtomicInteger liveWorkers = new AtomicInteger();
    private volatile boolean closing;
    private FuseConnection connection;
    private InitNegotiation.Result init;
    private InitNegotiation negotiation;
    private volatile FuseUringTransport uring;
    private FuseNotifier notifier;
    /** Stops the /dev/fuse workers without touching the connection (planned handover); see {@link DeviceReaders}. */
    private final DeviceReaders readers = new DeviceReaders();
    private final MutationGate mutationGate = new MutationGate();

    private FuseSession(Path mountPoint, FuseFilesystem fs, Options options, int deviceFd) {
        this.mountPoint = mountPoint;
        this.fs = fs;
        this.options = options;
        this.deviceFd = deviceFd;
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
        int fd;
        try {
            fd = Syscalls.open(Path.of("/dev/fuse"), O_RDWR, 0);
        } catch (ErrnoException e) {
            throw new IOException("cannot open /dev/fuse (" + Errno.name(e.errno()) + "): FUSE is not available"
                    + (e.errno() == Errno.ENOENT ? "; load the fuse module or give the container /dev/fuse" : ""), e);
        }
        FuseSession session = new FuseSession(mountPoint, fs, options, fd);
        session.negotiation = options.negotiation().withUring(wantUring);
        try {
            String data = "fd=" + fd + ",rootmode=40000,user_id=0,group_id=0,default_permissions,allow_other";
            long flags = MS_NOSUID | MS_NODEV | options.extraMountFlags() | (options.readOnly() ? MS_RDONLY : 0);
            Syscalls.mount(options.fsName(), mountPoint, "fuse." + options.subtype(), flags, data);
        } catch (ErrnoException e) {
            Syscalls.close(fd);
            throw e;
        }
        try {
            session.handleInit();
            session.startUring(wantUring);
            session.startWorkers();
        } catch (IOException | RuntimeException e) {
            session.abortAfterFailedStart();
            throw e;
        }
        return session;
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
        for (int i = 0; i < deviceFds.length; i++) {
            session.workers.add(new FuseWorker(session, deviceFds[i], i));
        }
        session.liveWorkers.addAndGet(session.workers.size());
        // Resend before any worker reads: it re-queues everything in the processing lists, which then
        // hold only what the previous daemon read; a request of ours would be executed twice.
        int err = session.notifier.resend();
        for (FuseWorker w : session.workers) {
            session.readers.prepare(w.fd());
            w.start();
        }
        LOG.info("{}: adopted connection {} with {} device descriptors; resend {}",
                mountPoint, connectionId, deviceFds.length, err == 0 ? "asked" : "failed: " + Errno.name(err));
        return session;
    }

    /** Every /dev/fuse descriptor this session reads from (the mount's own first, then its clones). */
    public int[] deviceFds() {
        return workers.stream().mapToInt(FuseWorker::fd).toArray();
    }

    /**
     * Tells listener the new set of device descriptors whenever workers come or go, before a new worker
     * reads its first request and after a retired one closed its descriptor: an fd keeper must hold every
     * device file that may have requests in its processing list (the kernel ends those with ECONNABORTED
     * when the file's last reference goes), and should let go of the ones no worker reads any more.
     */
    public void onDevicesChanged(java.util.function.Consumer<int[]> listener) {
        devicesChanged = listener;
    }

    private void announceDevices() {
        try {
            devicesChanged.accept(deviceFds());
        } catch (RuntimeException e) {
            LOG.warn("{}: telling the fd keeper about the device descriptors: {}", mountPoint,
                    e.getMessage());
        }
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
        if (uring != null) {
            throw new IllegalStateException(mountPoint + ": a session served over io_uring cannot be handed over");
        }
        readers.stop();
        if (!readers.wake(mountPoint, liveWorkers.get())) {
            LOG.warn("{}: cannot open the mount's root to wake the workers; each stops after its"
                    + " next request", mountPoint);
        }
        return terminated.await(timeout, unit);
    }

    DeviceReaders readers() {
        return readers;
    }

    private void handleInit() throws IOException {
        ByteBuffer in = NativeMemory.allocateUntouched(FuseAbi.MIN_READ_BUFFER);
        try {
            readInit(in);
        } finally {
            NativeMemory.free(in);
        }
    }

    private void readInit(ByteBuffer in) throws IOException {
        ByteBuffer out = NativeMemory.allocate(InitOut.SIZE + 16);
        FuseRequest rq = new FuseRequest(in);
        FuseReply rp = new FuseReply(out);
        while (true) {
            long n = LibC.read(deviceFd, rq.address(), in.capacity());
            if (n < 0) {
                int errno = LibC.errno();
                if (errno == Errno.EINTR) {
                    continue;
                }
                throw new ErrnoException("read INIT", "/dev/fuse", errno);
            }
            if (!rq.accept((int) n) || rq.opcode() != FuseOpcode.INIT) {
                throw new IOException("expected FUSE INIT from the kernel, got "
                        + (n >= InHeader.SIZE ? FuseOpcode.name(rq.opcode()) : n + " bytes"));
            }
            int major = rq.u32(InitIn.MAJOR);
            int minor = rq.u32(InitIn.MINOR);
            long kflags = rq.u32(InitIn.FLAGS) & 0xffffffffL;
            if ((kflags & FuseAbi.INIT_EXT) != 0 && rq.argLength() >= InitIn.SIZE) {
                kflags |= (rq.u32(InitIn.FLAGS2) & 0xffffffffL) << 32;
            }
            InitNegotiation.Result r = negotiation.negotiate(major, minor, kflags,
                    rq.u32(InitIn.MAX_READAHEAD));
            rp.begin(rq.unique());
            if (r.minor() < 0) {
                rp.putU32(InitOut.MAJOR, r.major());
                rp.putU32(InitOut.MINOR, 0);
                rp.payloadLength(8);
                send(deviceFd, rp);
                continue; // the kernel retries INIT with our major
            }
            rp.zero(0, InitOut.SIZE);
            rp.putU32(InitOut.MAJOR, r.major());
            rp.putU32(InitOut.MINOR, r.minor());
            rp.putU32(InitOut.MAX_READAHEAD, r.maxReadahead());
            rp.putU32(InitOut.FLAGS, (int) r.flags());
            rp.putU16(InitOut.MAX_BACKGROUND, r.maxBackground());
            rp.putU16(InitOut.CONGESTION_THRESHOLD, r.congestionThreshold());
            rp.putU32(InitOut.MAX_WRITE, r.maxWrite());
            rp.putU32(InitOut.TIME_GRAN, r.timeGran());
            rp.putU16(InitOut.MAX_PAGES, r.maxPages());
            rp.putU32(InitOut.FLAGS2, (int) (r.flags() >>> 32));
            rp.putU32(InitOut.MAX_STACK_DEPTH, r.maxStackDepth());
            rp.payloadLength(InitOut.SIZE);
            if (send(deviceFd, rp) < 0) {
                throw new ErrnoException("reply INIT", "/dev/fuse", LibC.errno());
            }
            this.init = r;
            long connectionId = MountTable.find(mountPoint).map(e -> (long) e.minor()).orElse(-1L);
            this.connection = new FuseConnection(deviceFd, r.minor(), r.flags(), r.maxWrite(), connectionId);
            this.notifier = new FuseNotifier(deviceFd);
            fs.init(connection);
            LOG.info("mounted {}: FUSE {}.{} negotiated (kernel offers 7.{}), passthrough={},"
                    + " writeback={}, max_write={}, connection {}", mountPoint, r.major(), r.minor(), minor,
                    connection.passthrough(), connection.writebackCache(), r.maxWrite(), connectionId);
            // Which capability a feature hangs on, when the summary above does not say why it is off.
            LOG.debug("{}: INIT flags offered by the kernel 0x{}, agreed 0x{}; max_readahead {}, max_pages {}",
                    mountPoint, Long.toHexString(kflags), Long.toHexString(r.flags()), r.maxReadahead(), r.maxPages());
            return;
        }
    }

    /**
     * Starts the io_uring queues if INIT agreed on them. Until every queue has registered, the kernel
     * holds new requests back; if a queue cannot register, it falls back to /dev/fuse by itself.
     */
    private void startUring(boolean wanted) throws IOException {
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
        try {
            uring = FuseUringTransport.start(this, fs, deviceFd, options.uring().entriesPerQueue(), payload);
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

    private void startWorkers() throws IOException {
        int n = Math.max(1, options.workers());
        for (int i = 0; i < n; i++) {
            int fd = i == 0 ? deviceFd : cloneDevice();
            FuseWorker w = new FuseWorker(this, fd, i);
            workers.add(w);
        }
        liveWorkers.addAndGet(workers.size());
        if (uring == null) {
            LOG.info("{}: serving over /dev/fuse: {} workers", mountPoint, workers.size());
        }
        for (FuseWorker w : workers) {
            readers.prepare(w.fd());
            w.start();
        }
    }

    /** A new /dev/fuse fd attached to this connection, with its own processing list. */
    private int cloneDevice() throws IOException {
        int fd = Syscalls.open(Path.of("/dev/fuse"), O_RDWR, 0);
        ByteBuffer arg = NativeMemory.allocate(4);
        arg.putInt(0, deviceFd);
        if (LibC.ioctl(fd, FuseAbi.DEV_IOC_CLONE, NativeMemory.address(arg)) < 0) {
            int errno = LibC.errno();
            Syscalls.close(fd);
            throw new ErrnoException("ioctl FUSE_DEV_IOC_CLONE", "/dev/fuse", errno);
        }
        return fd;
    }

    static int send(int fd, FuseReply rp) {
        int len = rp.seal();
        long w = LibC.write(fd, rp.address(), len);
        return w < 0 ? -LibC.errno() : (int) w;
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
        memberExited();
    }

    /** A worker that left to shrink the session: its descriptor goes, its counts stay. */
    void workerRetired(FuseWorker w) {
        synchronized (retiredCounts) {
            long[] c = w.counts();
            for (int i = 0; i < c.length; i++) {
                retiredCounts[i] += c[i];
            }
        }
        workers.remove(w);
        Syscalls.close(w.fd());
        announceDevices();
        memberExited();
    }

    /**
     * Grows and shrinks the /dev/fuse workers between min and max as the advisor says (asked every
     * 500 ms): the stock-kernel form of eFuse's load balancing. Growing clones the device; shrinking lets
     * a worker finish its next request and leave. Does nothing while io_uring queues serve the mount.
     */
    public synchronized void scaleWorkers(WorkerAdvisor advisor, int min, int max) {
        if (min < 1 || max < min) {
            throw new IllegalArgumentException("worker bounds must satisfy 1 <= min <= max, not " + min + ".." + max);
        }
        if (scaler != null || uring != null) {
            return;
        }
        scaler = Thread.ofPlatform().daemon(true).name("fuse-scaler-" + mountPoint.getFileName()).start(() -> {
            while (alive() && !closing && !readers.stopping()) {
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

    private int activeWorkers() {
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
        for (int i = have; i < want && !closing && !readers.stopping(); i++) {
            int fd = cloneDevice();
            FuseWorker w = new FuseWorker(this, fd, workers.size());
            liveWorkers.incrementAndGet();
            workers.add(w);
            added.add(w);
        }
        if (!added.isEmpty()) {
            announceDevices();
            for (FuseWorker w : added) {
                readers.prepare(w.fd());
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
            try {
                LOG.info("{} ended; requests served: {}", mountPoint, describeCounts(opcodeCounts()));
                fs.destroy();
            } finally {
                for (FuseWorker x : workers) {
                    Syscalls.close(x.fd());
                }
                readers.close();
                terminated.countDown();
            }
        }
    }

    boolean closing() {
        return closing;
    }

    public Path mountPoint() { return mountPoint; }
    public FuseConnection connection() { return connection; }
    public FuseNotifier notifier() { return notifier; }
    public int workerCount() { return activeWorkers(); }
    /** True if requests are served over FUSE-over-io_uring queues (besides FORGET/INTERRUPT on /dev/fuse). */
    public boolean uringActive() { return uring != null; }
    public int uringQueueCount() { return uring == null ? 0 : uring.queueCount(); }

    /** Requests served by the io_uring queues since the mount (0 on /dev/fuse alone). */
    public long uringRequests() {
        FuseUringTransport u = uring;
        if (u == null) {
            return 0;
        }
        long[] c = new long[FuseOpcode.LIMIT];
        u.addCounts(c);
        long n = 0;
        for (long x : c) {
            n += x;
        }
        return n;
    }
    public boolean alive() { return terminated.getCount() > 0; }

    /** Requests served per opcode since the mount, summed over workers. */
    public long[] opcodeCounts() {
        long[] sum;
        synchronized (retiredCounts) {
            sum = retiredCounts.clone();
        }
        for (FuseWorker w : workers) {
            long[] c = w.counts();
            for (int i = 0; i < sum.length; i++) {
                sum[i] += c[i];
            }
        }
        FuseUringTransport u = uring;
        if (u != null) {
            u.addCounts(sum);
        }
        return sum;
    }

    static String describeCounts(long[] counts) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < counts.length; i++) {
            if (counts[i] > 0) {
                b.append(b.isEmpty() ? "" : ", ").append(FuseOpcode.name(i)).append('=').append(counts[i]);
            }
        }
        return b.isEmpty() ? "none" : b.toString();
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
        try {
            Syscalls.umount(mountPoint, UMOUNT_NOFOLLOW);
        } catch (ErrnoException e) {
            if (e.errno() == Errno.EBUSY) {
                try {
                    Syscalls.umount(mountPoint, MNT_DETACH | UMOUNT_NOFOLLOW);
                } catch (ErrnoException ignored) {
                    // already gone
                }
            }
        }
        long afterAbort = Math.min(AFTER_ABORT.toNanos(), grace.toNanos() / 4);
        try {
            if (stillMountedElsewhere()) {
                LOG.info("{}: the connection is still mounted elsewhere; aborting it", mountPoint);
            } else if (terminated.await(end - afterAbort - System.nanoTime(), TimeUnit.NANOSECONDS)) {
                return;
            } else {
                LOG.info("{}: the connection is still in use at the end of the grace; aborting it", mountPoint);
            }
            abortConnection();
            terminated.await(end - System.nanoTime(), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Whether a mount of this connection is left in this namespace, which keeps the connection up. */
    private boolean stillMountedElsewhere() {
        long id = connection == null ? -1 : connection.connectionId();
        if (id < 0) {
            return false;
        }
        try {
            return MountTable.anyMountOf(0, (int) id);
        } catch (IOException e) {
            return false;
        }
    }

    private void abortConnection() {
        long id = connection == null ? -1 : connection.connectionId();
        if (id >= 0) {
            try {
                java.nio.file.Files.writeString(Path.of("/sys/fs/fuse/connections/" + id + "/abort"), "1");
            } catch (IOException e) {
                LOG.warn("cannot abort FUSE connection " + id + ": " + e.getMessage());
            }
        }
    }

    private void abortAfterFailedStart() {
        try {
            Syscalls.umount(mountPoint, MNT_DETACH | UMOUNT_NOFOLLOW);
        } catch (ErrnoException ignored) {
            // the mount may not have happened
        }
        Syscalls.close(deviceFd);
    }
}
