package io.efuse.csi.fs;

import io.efuse.csi.sys.FileHandle;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayDeque;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * The daemon's recoverable state for one volume: an append-only log of fixed-size, checksummed
 * records under the volume's state directory (tmpfs: survives the daemon, not the node). Records:
 * a node the kernel knows (node id, generation, identity, file handle), its removal, an open file
 * handle (fh, node id, open flags), its release, and the intent/completion of a metadata change
 * (by the kernel's request id) so that a request delivered again after a restart is answered as it
 * was meant to be. A record torn by a crash fails its checksum and is skipped; the order of records
 * is the file order. When the log grows past a bound it is rewritten with only what is live.
 */
final class StateJournal implements AutoCloseable {
    static final int VERSION = 1;
    static final int RECORD = 256;
    private static final int MAGIC = 0xEF5E0000;
    static final int HEADER = 0, NODE = 1, DROP = 2, OPEN = 3, CLOSE = 4, INTENT = 5, DONE = 6;
    /** Metadata changes remembered for replays: far more than requests can be in flight at once. */
    private static final int OPS_KEPT = 1024;

    /** A node restored from the log. */
    record Node(long nodeId, int generation, long dev, long ino, int mode, FileHandle handle) {}

    /** An open file handle restored from the log. */
    record Open(long fh, long nodeId, int flags) {}

    /** A metadata change seen before the restart; done says it completed, ino is its result (if any). */
    record Op(long unique, int opcode, boolean done, long timeMillis, long ino) {}

    /** What a log holds: live nodes, open handles, recent metadata changes, and per slot the next generation. */
    record Contents(Map<Long, Node> nodes, Map<Long, Open> opens, Map<Long, Op> ops, Map<Long, Integer> nextGeneration) {}

    private final Path file;
    private final long compactAt;
    private FileChannel channel;
    private long end;
    private final ByteBuffer record = ByteBuffer.allocateDirect(RECORD).order(ByteOrder.LITTLE_ENDIAN);
    private final CRC32C crc = new CRC32C();
    // The live model, rewritten on compaction.
    private final Map<Long, byte[]> liveNodes = new LinkedHashMap<>();
    private final Map<Long, byte[]> liveOpens = new LinkedHashMap<>();
    private final ArrayDeque<byte[]> recentOps = new ArrayDeque<>();

    private StateJournal(Path file, long compactAt) {
        this.file = file;
        this.compactAt = compactAt;
    }

    /**
     * Opens the log at file, reading what it holds (empty if it does not exist); further records are
     * appended. compactAt: the size in bytes past which the log is rewritten.
     */
    static StateJournal open(Path file, long compactAt, Contents[] loaded) throws IOException {
        StateJournal j = new StateJournal(file, compactAt);
        Contents c = read(file);
        if (loaded != null) {
            loaded[0] = c;
        }
        for (Node n : c.nodes().values()) {
            j.liveNodes.put(n.nodeId(), j.encodeNode(n.nodeId(), n.generation(), n.dev(), n.ino(), n.mode(), n.handle()));
        }
        for (Open o : c.opens().values()) {
            j.liveOpens.put(o.fh(), j.encode(OPEN, o.fh(), o.nodeId(), o.flags(), 0, 0));
        }
        for (Op o : c.ops().values()) {
            j.recentOps.add(j.encode(o.done() ? DONE : INTENT, o.unique(), o.opcode(), 0, o.timeMillis(), o.ino()));
        }
        Files.createDirectories(file.getParent());
        long size = Files.exists(file) ? Files.size(file) : 0;
        if (size < RECORD) {
            j.rewrite();
        } else {
            // Appending after the last whole record keeps takeover fast; a torn tail record stays unreadable.
            j.channel = FileChannel.open(file, StandardOpenOption.WRITE);
            j.end = size - size % RECORD;
        }
        return j;
    }

    /** Reads a log; records failing their checksum (torn by a crash) are skipped. */
    static Contents read(Path file) throws IOException {
        Map<Long, Node> nodes = new LinkedHashMap<>();
        Map<Long, Open> opens = new LinkedHashMap<>();
        Map<Long, Op> ops = new LinkedHashMap<>(OPS_KEPT * 2, 0.75f, false) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<Long, Op> eldest) {
                return size() > OPS_KEPT;
            }
        };
        Map<Long, Integer> nextGen = new LinkedHashMap<>();
        if (!Files.exists(file)) {
            return new Contents(nodes, opens, ops, nextGen);
        }
        byte[] all = Files.readAllBytes(file);
        ByteBuffer b = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
        CRC32C crc = new CRC32C();
        for (int off = 0; off + RECORD <= all.length; off += RECORD) {
            crc.reset();
            crc.update(all, off, RECORD - 4);
            if ((int) crc.getValue() != b.getInt(off + RECORD - 4)) {
                continue;
            }
            int head = b.getInt(off);
            if ((head & 0xffff0000) != MAGIC) {
                continue;
            }
            int type = head & 0xffff;
            long key = b.getLong(off + 8);
            switch (type) {
                case HEADER -> {
                    if (key != VERSION) {
                        throw new IOException(file + ": state journal version " + key + ", this daemon reads "
                                + VERSION);
                    }
                }
                case NODE -> {
                    int gen = b.getInt(off + 16);
                    Node cur = nodes.get(key);
                    if (cur == null || cur.generation() <= gen) {
                        int hlen = b.getInt(off + 44);
                        FileHandle handle = null;
                        if (hlen >= 0) {
                            byte[] h = new byte[Math.min(hlen, FileHandle.MAX_BYTES)];
                            b.get(off + 48, h);
                            handle = new FileHandle(b.getInt(off + 40), h);
                        }
                        nodes.put(key, new Node(key, gen, b.getLong(off + 24), b.getLong(off + 32), b.getInt(off + 20),
                                handle));
                    }
                    nextGen.merge(key, gen + 1, Math::max);
                }
                case DROP -> {
                    int gen = b.getInt(off + 16);
                    Node cur = nodes.get(key);
                    if (cur != null && cur.generation() == gen) {
                        nodes.remove(key);
                    }
                    nextGen.merge(key, gen + 1, Math::max);
                }
                case OPEN -> opens.put(key, new Open(key, b.getLong(off + 16), b.getInt(off + 24)));
                case CLOSE -> opens.remove(key);
                case INTENT, DONE -> {
                    Op prev = ops.get(key);
                    boolean done = type == DONE;
                    ops.put(key, new Op(key, b.getInt(off + 16), done || (prev != null && prev.done()),
                            prev != null && !done ? prev.timeMillis() : b.getLong(off + 24), b.getLong(off + 32)));
                }
                default -> { }
            }
        }
        return new Contents(nodes, opens, ops, nextGen);
    }

    synchronized void node(long nodeId, int generation, long dev, long ino, int mode, FileHandle handle) {
        byte[] r = encodeNode(nodeId, generation, dev, ino, mode, handle);
        liveNodes.put(nodeId, r);
        append(r);
    }

    synchronized void drop(long nodeId, int generation) {
        liveNodes.remove(nodeId);
        append(encode(DROP, nodeId, generation, 0, 0, 0));
    }

    synchronized void open(long fh, long nodeId, int flags) {
        byte[] r = encode(OPEN, fh, nodeId, flags, 0, 0);
        liveOpens.put(fh, r);
        append(r);
    }

    synchronized void close(long fh) {
        if (liveOpens.remove(fh) != null) {
            append(encode(CLOSE, fh, 0, 0, 0, 0));
        }
    }

    synchronized void intent(long unique, int opcode) {
        op(encode(INTENT, unique, opcode, 0, System.currentTimeMillis(), 0));
    }

    synchronized void done(long unique, int opcode, long ino) {
        op(encode(DONE, unique, opcode, 0, System.currentTimeMillis(), ino));
    }

    private void op(byte[] r) {
        recentOps.add(r);
        while (recentOps.size() > OPS_KEPT) {
            recentOps.poll();
        }
        append(r);
    }

    synchronized long size() {
        return end;
    }

    private byte[] encodeNode(long nodeId, int generation, long dev, long ino, int mode, FileHandle handle) {
        ByteBuffer b = ByteBuffer.allocate(RECORD).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, MAGIC | NODE).putLong(8, nodeId).putInt(16, generation).putInt(20, mode).putLong(24, dev)
                .putLong(32, ino);
        if (handle == null) {
            b.putInt(44, -1);
        } else {
            b.putInt(40, handle.type()).putInt(44, handle.bytes().length).put(48, handle.bytes());
        }
        return seal(b);
    }

    private byte[] encode(int type, long key, long a, int flags, long time, long ino) {
        ByteBuffer b = ByteBuffer.allocate(RECORD).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, MAGIC | type).putLong(8, key);
        if (type == DROP) {
            b.putInt(16, (int) a);
        } else if (type == OPEN) {
            b.putLong(16, a).putInt(24, flags);
        } else if (type == INTENT || type == DONE) {
            b.putInt(16, (int) a).putLong(24, time).putLong(32, ino);
        }
        return seal(b);
    }

    private byte[] seal(ByteBuffer b) {
        crc.reset();
        crc.update(b.array(), 0, RECORD - 4);
        b.putInt(RECORD - 4, (int) crc.getValue());
        return b.array();
    }

    private void append(byte[] r) {
        if (channel == null) {
            return; // closed: the volume is being handed over or unmounted
        }
        try {
            record.clear();
            record.put(r).flip();
            while (record.hasRemaining()) {
                end += channel.write(record, end);
            }
            // Rewritten once mostly dead: a takeover reads the whole log, so it is kept within a few times
            // the live records (and never rewritten below compactAt, to bound the rewrite cost).
            long live = (liveNodes.size() + liveOpens.size() + recentOps.size() + 1L) * RECORD;
            if (end >= Math.max(compactAt, 4 * live)) {
                rewrite();
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("writing the state journal " + file, e);
        }
    }

    /** Writes only the live records to a new file and swaps it in (rename is atomic). */
    private void rewrite() throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".new");
        try (FileChannel out = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            long pos = 0;
            pos += writeAll(out, encode(HEADER, VERSION, 0, 0, 0, 0), pos);
            for (byte[] r : liveNodes.values()) {
                pos += writeAll(out, r, pos);
            }
            for (byte[] r : liveOpens.values()) {
                pos += writeAll(out, r, pos);
            }
            for (byte[] r : recentOps) {
                pos += writeAll(out, r, pos);
            }
            end = pos;
        }
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        if (channel != null) {
            channel.close();
        }
        channel = FileChannel.open(file, StandardOpenOption.WRITE);
    }

    private static long writeAll(FileChannel out, byte[] r, long pos) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(r);
        long p = pos;
        while (b.hasRemaining()) {
            p += out.write(b, p);
        }
        return RECORD;
    }

    @Override
    public synchronized void close() throws IOException {
        if (channel != null) {
            channel.close();
            channel = null;
        }
    }
}
