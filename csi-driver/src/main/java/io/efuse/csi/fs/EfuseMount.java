package io.efuse.csi.fs;

import static io.efuse.csi.sys.LinuxConstants.*;

import io.efuse.csi.fuse.FuseNotifier;
import io.efuse.csi.fuse.FuseOpcode;
import io.efuse.csi.fuse.FuseSession;
import io.efuse.csi.fuse.InitNegotiation;
import io.efuse.csi.sys.Errno;
import io.efuse.csi.sys.ErrnoException;
import io.efuse.csi.sys.LibC;
import io.efuse.csi.sys.MountTable;
import io.efuse.csi.sys.Statx;
import io.efuse.csi.sys.Syscalls;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** A mounted eFuse volume: the stackable filesystem over a backing directory, served by a FUSE session. */
public final class EfuseMount implements AutoCloseable {
    private final MountOptions options;
    private final EfuseFilesystem fs;
    private final FuseSession session;

    private EfuseMount(MountOptions options, EfuseFilesystem fs, FuseSession session) {
        this.options = options;
        this.fs = fs;
        this.session = session;
    }

    /** Mounts and returns once the kernel has negotiated INIT and requests are being served. */
    public static EfuseMount mount(MountOptions options) throws IOException {
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
        // Modes from the kernel already have the caller's umask applied; the daemon must not apply its own.
        LibC.umask(0);
        Syscalls.raiseFileLimit();
        int rootFd = Syscalls.open(backing, O_PATH | O_DIRECTORY, 0);
        EfuseFilesystem fs;
        try {
            Statx st = Syscalls.fstatx(rootFd);
            fs = new EfuseFilesystem(options, rootFd, ((long) st.devMajor() << 32) | (st.devMinor() & 0xffffffffL),
                    st.ino());
        } catch (ErrnoException e) {
            Syscalls.close(rootFd);
            throw e;
        }
        boolean wantPassthrough = options.tier() != Tier.CLASSIC;
        FuseSession.Options so = new FuseSession.Options(options.fsName(), "efuse", options.workers(),
                options.readOnly(), 0, new InitNegotiation(wantPassthrough, options.writebackCache()));
        FuseSession session;
        try {
            session = FuseSession.mount(mountPoint, fs, so);
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
        EfuseMount m = new EfuseMount(options, fs, session);
        if (options.tier() == Tier.PASSTHROUGH && !fs.passthroughActive()) {
            m.close();
            throw new MountException(MountException.Reason.TIER_UNAVAILABLE,
                    "tier passthrough was asked for but this kernel does not offer FUSE passthrough"
                            + " (Linux 6.9 or newer with CONFIG_FUSE_PASSTHROUGH)");
        }
        return m;
    }

    /** The tier really running: passthrough only if the kernel agreed to it. */
    public Tier tier() {
        return fs.passthroughActive() ? Tier.PASSTHROUGH : Tier.CLASSIC;
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
            notifier.invalidateEntry(parent, name);
        }
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
        return new Stats(tier(), session.workerCount(), fs.nodeCount(), fs.passthroughOpenFiles(),
                fs.passthroughOpenedTotal(), byOp);
    }

    /** Requests served for one opcode (e.g. {@link FuseOpcode#GETATTR}) since the mount. */
    public long requests(int opcode) {
        return session.opcodeCounts()[opcode];
    }

    /**
     * @param requests requests served per opcode name since the mount
     */
    public record Stats(Tier tier, int workers, int nodes, long passthroughOpenFiles, long passthroughOpenedTotal,
            Map<String, Long> requests) {}

    @Override
    public void close() {
        session.close();
    }
}
