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
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One mounted FUSE filesystem served from /dev/fuse: mounts, answers INIT, then runs worker threads
 * that each read requests from their own cloned device fd and dispatch them to the filesystem.
 */
public final class FuseSession implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(FuseSession.class.getName());

    /** How a session is mounted and served. */
    public record Options(String fsName, String subtype, int workers, boolean readOnly, long extraMountFlags,
            InitNegotiation negotiation) {}

    private final Path mountPoint;
    private final FuseFilesystem fs;
    private final Options options;
    private final int deviceFd;
    private final List<FuseWorker> workers = new ArrayList<>();
    private final CountDownLatch terminated;
    private final AtomicInteger liveWorkers = new AtomicInteger();
    private volatile boolean closing;
    private FuseConnection connection;
    private InitNegotiation.Result init;
    private FuseNotifier notifier;

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
        int fd;
        try {
            fd = Syscalls.open(Path.of("/dev/fuse"), O_RDWR, 0);
        } catch (ErrnoException e) {
            throw new IOException("cannot open /dev/fuse (" + Errno.name(e.errno()) + "): FUSE is not available"
                    + (e.errno() == Errno.ENOENT ? "; load the fuse module or give the container /dev/fuse" : ""), e);
        }
        FuseSession session = new FuseSession(mountPoint, fs, options, fd);
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
            session.startWorkers();
        } catch (IOException | RuntimeException e) {
            session.abortAfterFailedStart();
            throw e;
        }
        return session;
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
            InitNegotiation.Result r = options.negotiation().negotiate(major, minor, kflags,
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
            LOG.log(Level.INFO, "mounted {0}: FUSE {1}.{2} negotiated (kernel offers 7.{3}), passthrough={4},"
                    + " writeback={5}, max_write={6,number,#}, connection {7,number,#}", mountPoint, r.major(), r.minor(), minor,
                    connection.passthrough(), connection.writebackCache(), r.maxWrite(), connectionId);
            return;
        }
    }

    private void startWorkers() throws IOException {
        int n = Math.max(1, options.workers());
        for (int i = 0; i < n; i++) {
            int fd = i == 0 ? deviceFd : cloneDevice();
            FuseWorker w = new FuseWorker(this, fd, i);
            workers.add(w);
        }
        liveWorkers.set(workers.size());
        for (FuseWorker w : workers) {
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

    int replyBufferSize() {
        return init.maxWrite() + 4096;
    }

    void workerExited(FuseWorker w) {
        if (liveWorkers.decrementAndGet() == 0) {
            try {
                LOG.log(Level.INFO, "{0} ended; requests served: {1}", mountPoint, describeCounts(opcodeCounts()));
                fs.destroy();
            } finally {
                for (FuseWorker x : workers) {
                    Syscalls.close(x.fd());
                }
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
    public int workerCount() { return workers.size(); }
    public boolean alive() { return terminated.getCount() > 0; }

    /** Requests served per opcode since the mount, summed over workers. */
    public long[] opcodeCounts() {
        long[] sum = new long[FuseOpcode.LIMIT];
        for (FuseWorker w : workers) {
            long[] c = w.counts();
            for (int i = 0; i < sum.length; i++) {
                sum[i] += c[i];
            }
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

    /**
     * Unmounts and waits for the workers to stop. A busy mount is detached (it disappears from the
     * namespace and ends when its last user closes); if the workers still run after the grace period,
     * the connection is aborted so that nothing hangs.
     */
    @Override
    public void close() {
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
        try {
            if (!terminated.await(5, TimeUnit.SECONDS)) {
                abortConnection();
                terminated.await(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void abortConnection() {
        long id = connection == null ? -1 : connection.connectionId();
        if (id >= 0) {
            try {
                java.nio.file.Files.writeString(Path.of("/sys/fs/fuse/connections/" + id + "/abort"), "1");
            } catch (IOException e) {
                LOG.log(Level.WARNING, "cannot abort FUSE connection " + id + ": " + e.getMessage());
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
