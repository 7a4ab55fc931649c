package io.efuse.csi.fs;

import static io.efuse.csi.sys.LinuxConstants.*;

import io.efuse.csi.fuse.InitNegotiation;
import io.efuse.csi.sys.ErrnoException;
import io.efuse.csi.sys.FileHandle;
import io.efuse.csi.sys.LibC;
import io.efuse.csi.sys.Syscalls;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The recoverable side of one volume's filesystem: records nodes and open files in the
 * {@link StateJournal} as the kernel learns them, and after a daemon restart puts the recorded nodes
 * back (opened again lazily through their file handles) and serves the open file handles of earlier
 * incarnations by opening their files again on first use.
 */
final class VolumeState implements InodeTable.Listener, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(VolumeState.class);
    static final String JOURNAL = "journal";
    /** The journal is rewritten with only its live records past this size (and four times the live size). */
    static final long COMPACT_AT = 1L << 20;

    private final Path dir;
    private final StateJournal journal;
    private final int epoch;
    private final int mountFd;
    private final Map<Long, StateJournal.Open> earlier;
    private final Map<Long, StateJournal.Op> ops;
    private final ConcurrentHashMap<Long, Integer> reopenedFiles = new ConcurrentHashMap<>();
    /**
     * Per restored node, from earlier incarnations: {passthrough backing id (-1: none), open handles sharing it,
     * open handles on the daemon's path}.
     */
    private final Map<Long, int[]> earlierBacking;

    private VolumeState(Path dir, StateJournal journal, int epoch, int mountFd, Map<Long, StateJournal.Open> earlier,
            Map<Long, StateJournal.Op> ops, Map<Long, int[]> earlierBacking) {
        this.dir = dir;
        this.journal = journal;
        this.epoch = epoch;
        this.mountFd = mountFd;
        this.earlier = earlier;
        this.ops = ops;
        this.earlierBacking = earlierBacking;
    }

    /**
     * The state's files, with the ".new" files that replace the journal and the session file atomically: a daemon
     * killed while it wrote one leaves it behind (seen after kill -9 under load in a real cluster), and a directory
     * still holding it outlived its volume.
     */
    private static void deleteFiles(Path dir) throws IOException {
        for (String name : new String[] {JOURNAL, SessionFile.NAME, JOURNAL + ".new", SessionFile.NAME + ".new"}) {
            Files.deleteIfExists(dir.resolve(name));
        }
    }

    /** A fresh volume: whatever dir held (a previous mount's leftovers) is discarded. */
    static VolumeState start(Path dir, Path backing) throws IOException {
        Files.createDirectories(dir);
        // Holds file handles that open any file of the backing filesystem: root only.
        Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
        deleteFiles(dir);
        int mountFd = Syscalls.open(backing, O_RDONLY | O_DIRECTORY, 0);
        StateJournal j = StateJournal.open(dir.resolve(JOURNAL), COMPACT_AT, null);
        return new VolumeState(dir, j, 1, mountFd, Map.of(), Map.of(), Map.of());
    }

    /**
     * Takes over the state a previous daemon left in dir: restores its nodes into fs's table and picks
     * an incarnation number no open file handle of an earlier one uses.
     */
    static VolumeState resume(Path dir, SessionFile session, EfuseFilesystem fs) throws IOException {
        StateJournal.Contents[] loaded = new StateJournal.Contents[1];
        StateJournal j = StateJournal.open(dir.resolve(JOURNAL), COMPACT_AT, loaded);
        StateJournal.Contents c = loaded[0];
        int mountFd;
        try {
            mountFd = Syscalls.open(session.options().backing(), O_RDONLY | O_DIRECTORY, 0);
        } catch (ErrnoException e) {
            j.close();
            throw e;
        }
        InodeTable table = fs.inodes();
        for (StateJournal.Node n : c.nodes().values()) {
            if (n.nodeId() > 1) {
                table.restore(n.nodeId(), n.generation(), n.dev(), n.ino(), n.mode());
            }
        }
        table.finishRestore(slot -> c.nextGeneration().getOrDefault(slot, 0));
        Map<Long, int[]> backing = new HashMap<>();
        java.util.BitSet used = new java.util.BitSet(256);
        for (StateJournal.Open o : c.opens().values()) {
            used.set((int) (o.fh() >>> 56));
            int id = (int) ((o.fh() >>> 24) & 0x7fffffffL) - 1;
            if (id >= 0) {
                int[] b = backing.computeIfAbsent(o.nodeId(), k -> new int[] {-1, 0, 0});
                b[0] = id;
                b[1]++;
            } else if ((o.fh() & FileHandles.DAEMON_PATH) != 0) {
                backing.computeIfAbsent(o.nodeId(), k -> new int[] {-1, 0, 0})[2]++;
            }
        }
        int epoch = session.epoch();
        do {
            epoch = epoch % 255 + 1; // 1..255; 0 marks handles of volumes that are not recoverable
        } while (used.get(epoch) && used.cardinality() < 255);
        VolumeState st = new VolumeState(dir, j, epoch, mountFd, new ConcurrentHashMap<>(c.opens()), c.ops(), backing);
        st.handles.putAll(c.nodes());
        LOG.info("{}: resumed incarnation {} with {} nodes, {} open files, {} recent changes",
                dir, epoch, c.nodes().size(), c.opens().size(), c.ops().size());
        return st;
    }

    /** File handles of restored nodes (written by resume, read when a node is first used). */
    private final Map<Long, StateJournal.Node> handles = new ConcurrentHashMap<>();

    int epoch() {
        return epoch;
    }

    Path dir() {
        return dir;
    }

    void saveSession(MountOptions options, InitNegotiation.Result init, long connectionId) throws IOException {
        new SessionFile(options, init, connectionId, epoch).write(dir);
    }

    // ---- the node table's journal ----

    @Override
    public void created(Inode inode) {
        FileHandle h;
        try {
            // A node kept by file handle (past the descriptor budget) already has one.
            h = inode.handle != null ? FileHandle.ofStruct(inode.handle) : FileHandle.of(inode.fd);
        } catch (ErrnoException e) {
            h = null; // the backing filesystem has no file handles: this node cannot come back after a crash
        }
        journal.node(inode.nodeId, inode.generation, inode.dev, inode.ino, inode.mode, h);
    }

    @Override
    public void dropped(Inode inode) {
        journal.drop(inode.nodeId, inode.generation);
    }

    @Override
    public int reopen(Inode inode) {
        StateJournal.Node n = handles.get(inode.nodeId);
        if (n == null || n.handle() == null) {
            return -1;
        }
        try {
            return n.handle().open(mountFd, O_PATH | O_NOFOLLOW);
        } catch (ErrnoException e) {
            LOG.debug("node {} cannot be opened again: {}", inode.nodeId, e.getMessage());
            return -1;
        }
    }

    @Override
    public void reopened(Inode placeholder, Inode inode) {
        handles.remove(placeholder.nodeId);
        int[] b = earlierBacking.get(placeholder.nodeId);
        if (b != null) {
            synchronized (inode) {
                if (b[1] > 0) {
                    inode.backingId = b[0];
                    inode.backingOpens = b[1];
                    inode.cacheStale = true;
                }
                inode.daemonOpens = b[2];
            }
        }
    }

    // ---- open files ----

    void opened(long fh, long nodeId, int flags) {
        journal.open(fh, nodeId, flags);
    }

    void closed(long fh) {
        journal.close(fh);
    }

    /** The descriptor serving fh, an open file handle of an earlier incarnation; -1 if it cannot be opened. */
    int fdOf(long nodeId, long fh, EfuseFilesystem fs) {
        Integer fd = reopenedFiles.get(fh);
        if (fd != null) {
            return fd;
        }
        synchronized (this) {
            fd = reopenedFiles.get(fh);
            if (fd != null) {
                return fd;
            }
            StateJournal.Open o = earlier.get(fh);
            int flags = o != null ? o.flags() : O_RDWR;
            long node = o != null ? o.nodeId() : nodeId;
            int f = fs.reopenFile(node, flags);
            if (f < 0 && o == null) {
                f = fs.reopenFile(node, O_RDONLY); // not logged (the daemon died between open and log): best effort
            }
            if (f < 0) {
                LOG.warn("{}: open file of node {} from before the restart cannot be opened again: {}",
                        dir, node, io.efuse.csi.sys.Errno.name(LibC.errno()));
                return -1;
            }
            reopenedFiles.put(fh, f);
            return f;
        }
    }

    /** Open handles of earlier incarnations that were opened for writing with passthrough. */
    int earlierPassthroughWriters() {
        int n = 0;
        for (var e : earlier.entrySet()) {
            if (FileHandles.backingIdOf(e.getKey()) >= 0 && (e.getValue().flags() & O_ACCMODE) != O_RDONLY) {
                n++;
            }
        }
        return n;
    }

    /** RELEASE of an open file handle of an earlier incarnation. */
    void closeEarlier(long fh) {
        earlier.remove(fh);
        journal.close(fh);
        Integer fd = reopenedFiles.remove(fh);
        if (fd != null) {
            LibC.close(fd);
        }
    }

    // ---- replays ----

    /** What the previous incarnation recorded for the request with this unique (without the resend bit). */
    StateJournal.Op op(long unique) {
        return ops.get(unique);
    }

    void intent(long unique, int opcode) {
        journal.intent(unique, opcode);
    }

    void done(long unique, int opcode, long ino) {
        journal.done(unique, opcode, ino);
    }

    long journalSize() {
        return journal.size();
    }

    /** Unmounted for good: the state can go. */
    void discard() throws IOException {
        close();
        deleteFiles(dir);
        try {
            Files.deleteIfExists(dir);
        } catch (java.nio.file.DirectoryNotEmptyException ignored) {
            // something else lives there; leave it
        }
    }

    @Override
    public void close() throws IOException {
        journal.close();
        Syscalls.close(mountFd);
        for (Integer fd : reopenedFiles.values()) {
            LibC.close(fd);
        }
        reopenedFiles.clear();
    }
}
