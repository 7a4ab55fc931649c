package io.efuse.csi.fs;

import static io.efuse.csi.sys.LinuxConstants.*;

import io.efuse.csi.fuse.FuseFilesystem;
import io.efuse.csi.fuse.FuseNotifier;
import io.efuse.csi.fuse.FuseOpcode;
import io.efuse.csi.fuse.WorkerAdvisor;
import io.efuse.csi.fuse.FuseSession;
import io.efuse.csi.fuse.InitNegotiation;
import io.efuse.csi.fuse.MutationGate;
import io.efuse.csi.fuse.UringQueues;
import io.efuse.csi.fuse.UringUnavailableException;
import io.efuse.csi.sys.Errno;
import io.efuse.csi.sys.ErrnoException;
import io.efuse.csi.sys.FreezeSyscalls;
import io.efuse.csi.sys.LibC;
import io.efuse.csi.sys.MountTable;
import io.efuse.csi.sys.Statx;
import io.efuse.csi.sys.Syscalls;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** A mounted eFuse volume: the stackable filesystem over a backing directory, served by a FUSE session. */
public final class EfuseMount implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(EfuseMount.class);

    /** As mounted, with the limits of the last {@link #resize}. */
    private volatile MountOptions options;
    private final EfuseFilesystem fs;
    private final FuseSession session;
    private final KernelCachingFilesystem kernelCache;
    /** Where the volume's recoverable state lives (null: the mount dies with this process). */
    private final VolumeState state;

    private EfuseMount(MountOptions options, EfuseFilesystem fs, FuseSession session, VolumeState state,
            KernelCachingFilesystem kernelCache) {
        this.options = options;
        this.fs = fs;
        this.session = session;
        this.state = state;
        this.kernelCache = kernelCache;
    }

    /** Serves fs through the in-kernel cache chosen at INIT (none unless the kernel offers the eFuse hook). */
    private static KernelCachingFilesystem withKernelCache(FuseFilesystem served, EfuseFilesystem fs,
            MountOptions options, KernelCacheOptions kernelCache) {
        return new KernelCachingFilesystem(served, fs::nodeIdNamed, kernelCache.mode(), kernelCache::attach,
                options.mountPoint().toString());
    }

    /** Mounts and returns once the kernel has negotiated INIT and requests are being served. */
    public static EfuseMount mount(MountOptions options) throws IOException {
        return mount(options, KernelCacheOptions.AUTO);
    }

    /** As {@link #mount(MountOptions)}, with the in-kernel cache as kernelCache says. */
    public static EfuseMount mount(MountOptions options, KernelCacheOptions kernelCache) throws IOException {
        return mount(options, UringQueues.ENABLE_URING, null, kernelCache);
    }

    /** As {@link #mount(MountOptions)}, reading the fuse module's enable_uring switch from enableUring. */
    static EfuseMount mount(MountOptions options, Path enableUring) throws IOException {
        return mount(options, enableUring, null, KernelCacheOptions.AUTO);
    }

    /**
     * Mounts a volume that survives the restart of its daemon: nodes and open files are recorded under
     * stateDir (tmpfs, e.g. /run/efuse/VOLUME), requests are read from /dev/fuse (io_uring queues cannot
     * be handed over), and {@link #deviceFds()} are what an fd keeper must hold to keep the connection up.
     */
    public static EfuseMount mountRecoverable(MountOptions options, Path stateDir) throws IOException {
        if (options.queues() == Queues.URING) {
            throw new MountException(MountException.Reason.QUEUES_UNAVAILABLE,
                    "a volume that survives daemon restarts is served over /dev/fuse: --queues uring cannot be used");
        }
        MountOptions dev = new MountOptions(options.backing(), options.mountPoint(), options.tier(), options.workers(),
                options.entryTimeout(), options.attrTimeout(), options.writebackCache(), options.readOnly(),
                options.maxBytes(), options.maxInodes(), options.fsName(), Queues.DEV, options.shownBytes(),
                options.usageFile());
        return mount(dev, UringQueues.ENABLE_URING, stateDir, KernelCacheOptions.AUTO);
    }

    /**
     * Serves a live connection left by a daemon that died or handed over: the state under stateDir
     * says what was mounted and negotiated, deviceFds are the connection's /dev/fuse descriptors (from
     * the fd keeper; owned by the mount from here on).
     */
    public static EfuseMount adopt(Path stateDir, int[] deviceFds) throws IOException {
        long t0 = System.nanoTime();
        SessionFile session = SessionFile.read(stateDir);
        MountOptions options = session.options();
        LibC.umask(0);
        Syscalls.raiseFileLimit();
        int rootFd = Syscalls.open(options.backing(), O_PATH | O_DIRECTORY, 0);
        EfuseFilesystem fs;
        VolumeState state;
        try {
            Statx st = Syscalls.fstatx(rootFd);
            SpaceAccount account = options.limited() ? SpaceAccount.measure(options.backing(), options.maxBytes(),
                    options.maxInodes()) : null;
            fs = new EfuseFilesystem(options, rootFd, ((long) st.devMajor() << 32) | (st.devMinor() & 0xffffffffL),
                    st.ino(), account);
        } catch (IOException e) {
            Syscalls.close(rootFd);
            throw e;
        }
        try {
            state = VolumeState.resume(stateDir, session, fs);
        } catch (IOException | RuntimeException e) {
            fs.destroy();
            throw e;
        }
        long t1 = System.nanoTime();
        fs.recoverable(state);
        state.saveSession(options, session.init(), session.connectionId());
        long t2 = System.nanoTime();
        boolean wantPassthrough = options.tier() != Tier.CLASSIC;
        FuseSession.Options so = new FuseSession.Options(options.fsName(), "efuse", deviceFds.length,
                options.readOnly(), 0, new InitNegotiation(wantPassthrough, options.writebackCache())
                        .withPosixAcl(fs.backingHasAcls()));
        KernelCachingFilesystem served = withKernelCache(new ReplaySafeFilesystem(fs, state), fs, options,
                KernelCacheOptions.AUTO);
        FuseSession fuse = FuseSession.adopt(options.mountPoint(), served, so, deviceFds,
                session.init(), session.connectionId());
        long t3 = System.nanoTime();
        LOG.info("takeover of {}: state {} ms (journal {} kB), session file {} ms, serving {} ms", options.mountPoint(),
                (t1 - t0) / 1_000_000, state.journalSize() / 1024, (t2 - t1) / 1_000_000, (t3 - t2) / 1_000_000);
        return new EfuseMount(options, fs, fuse, state, served);
    }

    /**
     * Loads and runs once, on scratch files, the code a takeover needs (state files, journal, file
     * handles), so that a standby daemon resumes a volume without paying for class loading then.
     */
    public static void prepareForAdoption() throws IOException {
        Path tmp = Files.createTempDirectory("efuse-warmup");
        try {
            MountOptions o = MountOptions.builder(tmp, tmp).build();
            new SessionFile(o, new InitNegotiation.Result(7, 45, 0, 4096, 1, 0, 0, 0, 1, 0), 0, 1).write(tmp);
            SessionFile.read(tmp);
            // A journal as large as a busy volume's, read a few times: the takeover then runs compiled code.
            Path journal = tmp.resolve(VolumeState.JOURNAL);
            try (StateJournal j = StateJournal.open(journal, Long.MAX_VALUE, null)) {
                int fd = Syscalls.open(tmp, O_PATH | O_DIRECTORY, 0);
                try {
                    io.efuse.csi.sys.FileHandle h = io.efuse.csi.sys.FileHandle.of(fd);
                    for (int i = 2; i < 6000; i++) {
                        j.node(i, 0, 1, i, S_IFREG | 0644, h);
                    }
                    for (int i = 0; i < 1000; i++) {
                        j.open(i, 2, 0);
                        j.intent(i, 1);
                        j.done(i, 1, 0);
                    }
                } finally {
                    Syscalls.close(fd);
                }
            }
            for (int round = 0; round < 3; round++) {
                StateJournal.Contents[] c = new StateJournal.Contents[1];
                StateJournal.open(journal, Long.MAX_VALUE, c).close();
                InodeTable table = new InodeTable(fd -> { });
                for (StateJournal.Node n : c[0].nodes().values()) {
                    table.restore(n.nodeId(), n.generation(), n.dev(), n.ino(), n.mode());
                }
                table.finishRestore(slot -> c[0].nextGeneration().getOrDefault(slot, 0));
            }
            Thread.ofVirtual().start(() -> { }).join();
            StateJournal.read(tmp.resolve(VolumeState.JOURNAL));
            for (String c : new String[] {"EfuseFilesystem", "ReplaySafeFilesystem", "VolumeState", "InodeTable",
                    "Inode", "WorkerScratch", "SpaceAccount"}) {
                Class.forName("io.efuse.csi.fs." + c, true, EfuseMount.class.getClassLoader());
            }
            for (String c : new String[] {"FuseSession", "FuseWorker", "RequestDispatcher", "FuseRequest", "FuseReply",
                    "FuseNotifier", "FuseConnection", "DeviceReaders", "FuseStructs", "FuseOpcode"}) {
                Class.forName("io.efuse.csi.fuse." + c, true, EfuseMount.class.getClassLoader());
            }
        } catch (ClassNotFoundException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            try (var files = Files.list(tmp)) {
                for (Path p : files.toList()) {
                    Files.deleteIfExists(p);
                }
            }
            Files.deleteIfExists(tmp);
        }
    }

    /** Every /dev/fuse descriptor the session reads from: an fd keeper holds a duplicate of each. */
    public int[] deviceFds() {
        return session.deviceFds();
    }

    /** The directory of the volume's recoverable state, or null if the mount does not survive its daemon. */
    public Path stateDir() {
        return state == null ? null : state.dir();
    }

    /**
     * Planned handover: stops serving without unmounting (see {@link FuseSession#detach}) and closes the
     * state journal. The connection stays up only if an fd keeper holds the device descriptors.
     */
    public boolean detach(long timeout, TimeUnit unit) throws InterruptedException, IOException {
        boolean stopped = session.detach(timeout, unit);
        if (state != null) {
            state.close();
        }
        return stopped;
    }

    private static EfuseMount mount(MountOptions options, Path enableUring, Path stateDir,
            KernelCacheOptions kernelCache) throws IOException {
        Path backing = options.backing().toAbsolutePath().normalize();
        Path mountPoint = options.mountPoint().toAbsolutePath().normalize();
        if (!Files.isDirectory(backing)) {
            throw new MountException(MountException.Reason.BAD_BACKING, "backing directory " + backing
                    + (Files.exists(backing) ? " is not a directory" : " does not exist"));
        }
        if (!Files.isDirectory(mountPoint)) {
            throw new MountException(MountException.Reason.BAD_MOUNTPOINT, "mount point " + mountPoint
                    + (Files.exists(mountPoint) ? " is not a directory" : " does not exist"));
        }
        if (MountTable.isMountPoint(mountPoint)) {
            throw new MountException(MountException.Reason.BUSY, "mount point " + mountPoint
                    + " is busy: something is already mounted there");
        }
        if (mountPoint.startsWith(backing)) {
            throw new MountException(MountException.Reason.BAD_MOUNTPOINT, "mount point " + mountPoint
                    + " lies inside the backing directory " + backing);
        }
        // The daemon must not apply a umask of its own: workers apply the caller's, which the request carries.
        LibC.umask(0);
        Syscalls.raiseFileLimit();
        int rootFd = Syscalls.open(backing, O_PATH | O_DIRECTORY, 0);
        EfuseFilesystem fs;
        try {
            Statx st = Syscalls.fstatx(rootFd);
            SpaceAccount account = options.limited() ? SpaceAccount.measure(backing, options.maxBytes(),
                    options.maxInodes()) : null;
            fs = new EfuseFilesystem(options, rootFd, ((long) st.devMajor() << 32) | (st.devMinor() & 0xffffffffL),
                    st.ino(), account);
        } catch (IOException e) {
            Syscalls.close(rootFd);
            throw e;
        }
        VolumeState state = null;
        FuseFilesystem served = fs;
        if (stateDir != null) {
            try {
                state = VolumeState.start(stateDir, backing);
            } catch (IOException e) {
                fs.destroy();
                throw e;
            }
            fs.recoverable(state);
            served = new ReplaySafeFilesystem(fs, state);
        }
        KernelCachingFilesystem cached = withKernelCache(served, fs, options, kernelCache);
        boolean wantPassthrough = options.tier() != Tier.CLASSIC;
        UringQueues uring = switch (options.queues()) {
            case AUTO -> UringQueues.auto();
            case DEV -> UringQueues.OFF;
            case URING -> UringQueues.mandatory();
        };
        FuseSession.Options so = new FuseSession.Options(options.fsName(), "efuse", options.workers(),
                options.readOnly(), 0, new InitNegotiation(wantPassthrough, options.writebackCache())
                        .withPosixAcl(fs.backingHasAcls()),
                uring.withEnableSwitch(enableUring));
        FuseSession session;
        try {
            session = FuseSession.mount(mountPoint, cached, so);
        } catch (UringUnavailableException e) {
            fs.destroy();
            throw new MountException(MountException.Reason.QUEUES_UNAVAILABLE, "--queues uring: " + e.getMessage(), e);
        } catch (ErrnoException e) {
            fs.destroy();
            if (e.errno() == Errno.EPERM) {
                throw new MountException(MountException.Reason.NOT_PERMITTED,
                        "mounting FUSE at " + mountPoint + " needs root (CAP_SYS_ADMIN)", e);
            }
            throw e;
        } catch (IOException | RuntimeException e) {
            fs.destroy();
            throw e;
        }
        if (state != null) {
            state.saveSession(options, session.negotiated(), session.connection().connectionId());
        }
        EfuseMount m = new EfuseMount(options, fs, session, state, cached);
        if (options.tier() == Tier.PASSTHROUGH && !fs.passthroughActive()) {
            m.close();
            throw new MountException(MountException.Reason.TIER_UNAVAILABLE,
                    "tier passthrough was asked for but this kernel does not offer FUSE passthrough"
                            + " (Linux 6.9 or newer with CONFIG_FUSE_PASSTHROUGH)");
        }
        return m;
    }

    /**
     * Changes the size limits of a live mount (online expansion). Only a mount made with limits has an account
     * to change; one made without refuses, since its usage was never counted, unless it shows a size that another
     * engine enforces, which then shows the new size. A recoverable mount records the new limits (or shown size)
     * in its state, so that a daemon taking it over has them too.
     */
    public synchronized void resize(long maxBytes, long maxInodes) throws IOException {
        if (maxBytes <= 0 && maxInodes <= 0) {
            throw new IllegalArgumentException("resize needs a byte or inode limit");
        }
        if (!fs.resize(maxBytes, maxInodes)) {
            throw new IllegalStateException("mount " + options.mountPoint() + " was made without limits");
        }
        MountOptions o = options;
        options = o.limited() ? o.withLimits(maxBytes, maxInodes) : o.withShownSize(maxBytes);
        if (state != null) {
            state.saveSession(options, session.negotiated(), session.connection().connectionId());
        }
    }

    /**
     * Holds back every request that changes the volume, once the kernel's cached writes of the mount reached the
     * daemon and the changes already running have finished (within {@code drain}). The hold ends with
     * {@link #resume} or by itself after {@code hold}. What the gate cannot hold back is reported: files writing
     * through passthrough, and, with the write-back cache, writes that land in the kernel's page cache.
     */
    public Quiescence quiesce(Duration drain, Duration hold) throws IOException, InterruptedException {
        new FreezeSyscalls().syncfs(session.mountPoint());
        try {
            long gen = session.mutationGate().close(drain, hold);
            return new Quiescence(gen, fs.passthroughWriters(), options.writebackCache());
        } catch (MutationGate.GateBusyException e) {
            throw new IOException(session.mountPoint() + ": " + e.getMessage(), e);
        }
    }

    /**
     * Ends the hold that {@link #quiesce} returned; false if it had ended by itself (its {@code hold} ran out), so
     * that changes may have passed meanwhile.
     */
    public boolean resume(long generation) {
        return session.mutationGate().open(generation);
    }

    /**
     * A mount held by {@link #quiesce}: {@code generation} ends it; {@code passthroughWriters} files write past the
     * hold and {@code writebackCache} means completed writes may still sit in the kernel.
     */
    public record Quiescence(long generation, int passthroughWriters, boolean writebackCache) {}

    /**
     * Applies what it can of new settings to the live session, without remounting. The tier changes for the files
     * opened from now on (those open keep theirs) unless it asks for passthrough on a session that did not negotiate
     * it; the writeback cache never changes, INIT fixed it. A recoverable mount records the new tier in its state,
     * so that a daemon taking it over keeps it. What waits is for the next session, made from the volume's settings
     * when it is staged again.
     */
    public synchronized LiveChange change(Tier wantTier, boolean wantWritebackCache) throws IOException {
        boolean kernelPassthrough = session.connection().passthrough();
        boolean writeback = writebackCache();
        if (wantTier != options.tier() && !fs.retier(wantTier)) {
            // As asked when mounted: whether the next session negotiates it depends on the tier it gets too.
            return new LiveChange(tier(), true, wantWritebackCache != options.writebackCache());
        }
        if (wantTier != options.tier()) {
            options = options.withTier(wantTier);
            if (state != null) {
                state.saveSession(options, session.negotiated(), session.connection().connectionId());
            }
        }
        // The kernel combines no writeback cache with passthrough: a session negotiates it only on the classic tier
        // or where passthrough is not to be had.
        boolean nextWriteback = wantWritebackCache && (wantTier == Tier.CLASSIC || !kernelPassthrough);
        return new LiveChange(tier(), false, nextWriteback != writeback);
    }

    /** See {@link FuseSession#onDevicesChanged}. */
    public void onDevicesChanged(java.util.function.Consumer<int[]> listener) {
        session.onDevicesChanged(listener);
    }

    /** The tier really running: passthrough only if the kernel agreed to it. */
    public Tier tier() {
        return fs.passthroughActive() ? Tier.PASSTHROUGH : Tier.CLASSIC;
    }

    /** Whether the kernel caches writes (FUSE_WRITEBACK_CACHE, fixed when INIT negotiated it). */
    public boolean writebackCache() {
        return session.connection().writebackCache();
    }

    /** The request transport really running: io_uring queues only if they registered. */
    public Queues queues() {
        return session.uringActive() ? Queues.URING : Queues.DEV;
    }

    /** Requests the io_uring queues served since the mount; the rest came over /dev/fuse. */
    public long requestsOverUring() {
        return session.uringRequests();
    }

    public int protocolMinor() {
        return session.connection().minor();
    }

    /** The FUSE connection id: the N of /sys/fs/fuse/connections/N and the minor of the mount's device. */
    public long connectionId() {
        return session.connection().connectionId();
    }

    public MountOptions options() {
        return options;
    }

    public Path mountPoint() {
        return session.mountPoint();
    }

    public boolean alive() {
        return session.alive();
    }

    public void awaitUnmount() throws InterruptedException {
        session.awaitTermination();
    }

    public boolean awaitUnmount(long timeout, TimeUnit unit) throws InterruptedException {
        return session.awaitTermination(timeout, unit);
    }

    /**
     * Tells the kernel to forget what it cached about relativePath (a path inside the backing tree) and
     * its directory entry, after the daemon's host changed it behind the mount (ownership of the root for
     * a pod's fsGroup, a restore into the tree). Resolution uses openat2(RESOLVE_BENEATH): a path that
     * would leave the backing root is refused.
     */
    public void invalidate(String relativePath) throws IOException {
        String rel = relativePath.replaceAll("^/+", "");
        FuseNotifier notifier = session.notifier();
        if (rel.isEmpty() || rel.equals(".")) {
            kernelCache.changedBehind(1);
            notifier.invalidateInode(1, 0, 0);
            return;
        }
        try {
            int fd = Syscalls.openat2(fs.rootFd(), rel, O_PATH | O_NOFOLLOW, 0,
                    RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
            try {
                Statx st = Syscalls.fstatx(fd);
                long node = fs.nodeIdOf(((long) st.devMajor() << 32) | (st.devMinor() & 0xffffffffL), st.ino());
                if (node != 0) {
                    kernelCache.changedBehind(node);
                    notifier.invalidateInode(node, 0, 0);
                }
            } finally {
                Syscalls.close(fd);
            }
        } catch (ErrnoException e) {
            if (e.errno() != Errno.ENOENT) {
                throw e; // gone from the backing tree: only its entry is left to drop
            }
        }
        int slash = rel.lastIndexOf('/');
        String parentRel = slash < 0 ? "" : rel.substring(0, slash);
        String name = rel.substring(slash + 1);
        long parent = 1;
        if (!parentRel.isEmpty()) {
            int pfd = Syscalls.openat2(fs.rootFd(), parentRel, O_PATH | O_DIRECTORY, 0,
                    RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
            try {
                Statx pst = Syscalls.fstatx(pfd);
                parent = fs.nodeIdOf(((long) pst.devMajor() << 32) | (pst.devMinor() & 0xffffffffL), pst.ino());
            } finally {
                Syscalls.close(pfd);
            }
        }
        if (parent != 0) {
            kernelCache.changedBehind(parent);
            notifier.invalidateEntry(parent, name);
        }
    }

    /**
     * Lets the worker count follow the advisor (e.g. the eBPF monitor's view of this connection's load)
     * between min and max.
     */
    public void scaleWorkers(WorkerAdvisor advisor, int min, int max) {
        session.scaleWorkers(advisor, min, max);
    }

    /** Figures for status views and metrics. */
    public Stats stats() {
        long[] counts = session.opcodeCounts();
        Map<String, Long> byOp = new LinkedHashMap<>();
        for (int i = 0; i < counts.length; i++) {
            if (counts[i] > 0) {
                byOp.put(FuseOpcode.name(i), counts[i]);
            }
        }
        return new Stats(tier(), session.workerCount(), fs.nodeCount(), fs.nodeDescriptors(), fs.passthroughOpenFiles(),
                fs.passthroughOpenedTotal(), byOp);
    }

    /** Whether the in-kernel cache is active on this mount, and if not, why. */
    public String kernelCacheStatus() {
        return kernelCache.status();
    }

    /** Whether a cache program was attached at INIT (it stays so until the session ends or a map fails). */
    public boolean kernelCacheAttached() {
        return kernelCache.attached();
    }

    /** What the in-kernel cache answered since the mount (zero without one). */
    public io.efuse.csi.bpf.EfuseCacheCounters kernelCacheCounters() {
        return kernelCache.counters();
    }

    /** Requests served for one opcode (e.g. {@link FuseOpcode#GETATTR}) since the mount. */
    public long requests(int opcode) {
        return session.opcodeCounts()[opcode];
    }

    /**
     * @param nodes nodes the kernel knows
     * @param nodeDescriptors of those, how many hold an open descriptor (the rest are kept by file handle)
     * @param requests requests served per opcode name since the mount
     */
    public record Stats(Tier tier, int workers, int nodes, int nodeDescriptors, long passthroughOpenFiles, long passthroughOpenedTotal,
            Map<String, Long> requests) {}

    @Override
    public void close() {
        session.close();
        discardState();
    }

    /** {@link #close()} within grace: the connection is aborted if its workers have not stopped by then. */
    public void close(Duration grace) {
        session.close(grace);
        discardState();
    }

    private void discardState() {
        if (state != null) {
            try {
                state.discard();
            } catch (IOException ignored) {
                // a leftover state directory is discarded by the next mount of the volume
            }
        }
    }
}
