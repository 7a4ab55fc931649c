package io.efuse.csi.fs;

import static io.efuse.csi.sys.LinuxConstants.F_GETFL;
import static io.efuse.csi.sys.LinuxConstants.F_SETFL;
import static io.efuse.csi.sys.LinuxConstants.O_DIRECT;

import io.efuse.csi.fuse.FuseConnection;
import io.efuse.csi.sys.LibC;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The backing files registered with the kernel for passthrough opens, shared by all open files of a node and
 * counted in its {@link Inode}, and the figures of the passthrough opens of this mount.
 */
final class PassthroughBackings {
    /** A passthrough open not tried because the inode's io mode excludes it (not the kernel refusing it). */
    static final int NOT_NOW = Integer.MIN_VALUE;

    private final AtomicLong open = new AtomicLong();
    private final AtomicLong openedTotal = new AtomicLong();
    /** Handles whose writes reach their backing file in the kernel, past the daemon and its mutation gate. */
    private final Set<Long> writers = ConcurrentHashMap.newKeySet();
    private volatile FuseConnection connection;

    void init(FuseConnection c) {
        this.connection = c;
    }

    /**
     * The passthrough backing id for an open of inode. The kernel accepts only one backing file per
     * inode at a time (another one fails the open with EIO), so all open files of a node share the id
     * registered by the first; it is closed when the last of them is released. Only while no open of the
     * inode is on the daemon's path (NOT_NOW otherwise), since the kernel fails a passthrough open of an inode
     * in cached io mode. A direct open gets O_DIRECT on its descriptor (which the daemon's own reads never
     * have), dropped again if the open stays on the daemon's path.
     */
    int acquire(Inode inode, int fd, boolean direct) {
        if (direct && LibC.fcntl(fd, F_SETFL, (LibC.fcntl(fd, F_GETFL, 0) | O_DIRECT)) != 0) {
            return NOT_NOW;
        }
        int id;
        synchronized (inode) {
            id = inode.daemonOpens > 0 ? NOT_NOW : acquireLocked(inode, fd);
        }
        if (id < 0 && direct) {
            LibC.fcntl(fd, F_SETFL, LibC.fcntl(fd, F_GETFL, 0) & ~O_DIRECT);
        }
        return id;
    }

    /** The backing id the inode's passthrough opens share, one more open of it; NOT_NOW if it has none. */
    int join(Inode inode) {
        synchronized (inode) {
            if (inode.backingOpens > 0) {
                inode.backingOpens++;
                return inode.backingId;
            }
            return NOT_NOW;
        }
    }

    private int acquireLocked(Inode inode, int fd) {
        inode.cacheStale = true;
        if (inode.backingOpens > 0) {
            inode.backingOpens++;
            return inode.backingId;
        }
        int id = connection.openBacking(fd);
        if (id >= 0) {
            inode.backingId = id;
            inode.backingOpens = 1;
        }
        return id;
    }

    /** Whether pages cached before the inode last went through passthrough are stale; clears it. */
    static boolean clearStale(Inode inode) {
        synchronized (inode) {
            boolean was = inode.cacheStale;
            inode.cacheStale = false;
            return was;
        }
    }

    /** A passthrough open given out: counted open, and once more in the total. */
    void opened() {
        open.incrementAndGet();
        openedTotal.incrementAndGet();
    }

    /** An open of a classic tier that joined earlier passthrough opens: counted open, not in the total. */
    void joinedDirect() {
        open.incrementAndGet();
    }

    /** The handle of an open whose writes bypass the daemon. */
    void writerOpened(long fh) {
        writers.add(fh);
    }

    /** The release of the passthrough open fh of inode (null when the node is gone). */
    void released(Inode inode, int backingId, long fh) {
        release(inode, backingId);
        open.decrementAndGet();
        writers.remove(fh);
    }

    private void release(Inode inode, int backingId) {
        if (inode == null) {
            connection.closeBacking(backingId);
            return;
        }
        synchronized (inode) {
            if (inode.backingId == backingId && --inode.backingOpens == 0) {
                inode.backingId = -1;
                connection.closeBacking(backingId);
            }
        }
    }

    long openFiles() {
        return open.get();
    }

    long openedTotal() {
        return openedTotal.get();
    }

    int writers() {
        return writers.size();
    }
}
