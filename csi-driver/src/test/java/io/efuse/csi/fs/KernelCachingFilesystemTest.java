package io.efuse.csi.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.efuse.csi.fuse.EfuseKernelAbi;
import io.efuse.csi.fuse.FuseAbi;
import io.efuse.csi.fuse.FuseConnection;
import io.efuse.csi.fuse.FuseFilesystem;
import io.efuse.csi.fuse.FuseOpcode;
import io.efuse.csi.fuse.FuseReply;
import io.efuse.csi.fuse.FuseRequest;
import io.efuse.csi.fuse.FuseStructs.Attr;
import io.efuse.csi.fuse.FuseStructs.AttrOut;
import io.efuse.csi.fuse.FuseStructs.Dirent;
import io.efuse.csi.fuse.FuseStructs.Direntplus;
import io.efuse.csi.fuse.FuseStructs.EntryOut;
import io.efuse.csi.fuse.FuseStructs.InHeader;
import io.efuse.csi.fuse.FuseStructs.OpenIn;
import io.efuse.csi.fuse.FuseStructs.OpenOut;
import io.efuse.csi.fuse.FuseStructs.ReadIn;
import io.efuse.csi.fuse.FuseStructs.ReleaseIn;
import io.efuse.csi.fuse.FuseStructs.RenameIn;
import io.efuse.csi.fuse.RequestDispatcher;
import io.efuse.csi.sys.Errno;
import io.efuse.csi.sys.LinuxConstants;
import io.efuse.csi.sys.NativeMemory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Which replies fill the in-kernel cache and which changes are announced before their reply, with requests built
 * byte by byte, a scripted filesystem under the cache, and maps that answer as the cache program does.
 */
class KernelCachingFilesystemTest {
    private static final long ROOT = 1;
    private static final long FILE = 5;
    private static final long SUBDIR = 6;

    private final FakeCacheMaps maps = new FakeCacheMaps();
    private final AtomicInteger loads = new AtomicInteger();
    private final List<Long> forgotten = new ArrayList<>();
    private final ScriptedFilesystem scripted = new ScriptedFilesystem();
    private final ByteBuffer in = NativeMemory.allocate(8192);
    private final FuseRequest rq = new FuseRequest(in);
    private final FuseReply rp = new FuseReply(NativeMemory.allocate(8192));
    private long unique;

    /** The files the scripted filesystem knows: name in ROOT → node id and size. */
    private final Map<String, long[]> files = new java.util.concurrent.ConcurrentHashMap<>(Map.of(
            "a", new long[] {FILE, 10}, "d", new long[] {SUBDIR, 4096}));

    private KernelCachingFilesystem cached(KernelCacheMode mode, long initFlags) {
        KernelCachingFilesystem fs = new KernelCachingFilesystem(scripted,
                (r, parent, nameAddress) -> parent == ROOT
                        ? files.getOrDefault(name(r, nameAddress), new long[] {0})[0] : 0,
                mode, connection -> {
                    loads.incrementAndGet();
                    return new MapKernelCache(maps, () -> { }, () -> { });
                }, "test");
        fs.init(FuseConnection.unbound(41, initFlags));
        return fs;
    }

    private KernelCachingFilesystem withHook() {
        return cached(KernelCacheMode.AUTO, FuseAbi.INIT_EXT | EfuseKernelAbi.EFUSE);
    }

    /** The name a resolver is asked about, read back from the request it points into. */
    private String name(FuseRequest r, long address) {
        return r.string((int) (address - r.argAddress(0)));
    }

    private static byte[] attr(long size) {
        ByteBuffer b = ByteBuffer.allocate(Attr.SIZE).order(ByteOrder.nativeOrder());
        b.putLong(Attr.SIZE_, size).putInt(Attr.MODE, LinuxConstants.S_IFREG | 0644);
        return b.array();
    }

    private static long sizeOf(byte[] attr) {
        return ByteBuffer.wrap(attr).order(ByteOrder.nativeOrder()).getLong(Attr.SIZE_);
    }

    /** Sends one request (opcode, node, in-args) through the dispatcher; returns the errno it was answered with. */
    private int send(FuseFilesystem fs, int opcode, long node, byte[] args) {
        int len = InHeader.SIZE + args.length;
        in.putInt(InHeader.LEN, len).putInt(InHeader.OPCODE, opcode).putLong(InHeader.UNIQUE, ++unique)
                .putLong(InHeader.NODEID, node).putInt(InHeader.UID, 0).putInt(InHeader.GID, 0).putInt(InHeader.PID, 1)
                .putShort(InHeader.TOTAL_EXTLEN, (short) 0).putShort(InHeader.PADDING, (short) 0);
        in.put(InHeader.SIZE, args);
        assertTrue(rq.acceptContiguous(len));
        RequestDispatcher.dispatch(fs, rq, rp);
        return rp.errorCode();
    }

    private static byte[] names(int fixed, String... names) {
        ByteBuffer b = ByteBuffer.allocate(fixed + 512).order(ByteOrder.nativeOrder());
        b.position(fixed);
        for (String n : names) {
            b.put(n.getBytes(StandardCharsets.UTF_8)).put((byte) 0);
        }
        return java.util.Arrays.copyOf(b.array(), b.position());
    }

    private static byte[] args(int size, java.util.function.Consumer<ByteBuffer> fill) {
        ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.nativeOrder());
        fill.accept(b);
        return b.array();
    }

    private Optional<Long> sizeServed(long node) {
        return maps.getattr(node).map(KernelCachingFilesystemTest::sizeOf);
    }

    @Test
    void withoutTheHookNothingIsLoadedAndRepliesAreUntouched() {
        KernelCachingFilesystem fs = cached(KernelCacheMode.AUTO, FuseAbi.INIT_EXT);
        assertEquals(0, send(fs, FuseOpcode.LOOKUP, ROOT, names(0, "a")));
        assertEquals(FILE, rp.getU64(EntryOut.NODEID));
        assertEquals(0, loads.get());
        assertTrue(fs.status().contains("does not offer"), fs.status());
        assertTrue(maps.entries.isEmpty() && maps.attrs.isEmpty());
    }

    @Test
    void turnedOffNothingIsLoadedEvenWhenTheKernelOffersIt() {
        KernelCachingFilesystem fs = cached(KernelCacheMode.OFF, FuseAbi.INIT_EXT | EfuseKernelAbi.EFUSE);
        send(fs, FuseOpcode.LOOKUP, ROOT, names(0, "a"));
        assertEquals(0, loads.get());
        assertTrue(maps.entries.isEmpty());
    }

    @Test
    void aProgramThatCannotBeAttachedLeavesTheVolumeServedWithout() {
        KernelCachingFilesystem fs = new KernelCachingFilesystem(scripted, (r, p, n) -> 0, KernelCacheMode.AUTO,
                connection -> {
                    throw new java.io.IOException("EPERM");
                }, "test");
        fs.init(FuseConnection.unbound(41, FuseAbi.INIT_EXT | EfuseKernelAbi.EFUSE));
        assertEquals(0, send(fs, FuseOpcode.LOOKUP, ROOT, names(0, "a")));
        assertTrue(fs.status().contains("EPERM"), fs.status());
        assertTrue(maps.entries.isEmpty());
    }

    @Test
    void lookupRepliesFillPositiveAndNegativeEntries() {
        KernelCachingFilesystem fs = withHook();
        assertEquals(1, loads.get());
        send(fs, FuseOpcode.LOOKUP, ROOT, names(0, "a"));
        assertEquals(Errno.ENOENT, send(fs, FuseOpcode.LOOKUP, ROOT, names(0, "missing")));
        assertEquals(Optional.of(FILE), maps.lookup(ROOT, "a"));
        assertEquals(Optional.of(10L), sizeServed(FILE));
        assertEquals(Optional.of(0L), maps.lookup(ROOT, "missing"));
    }

    @Test
    void setattrIsAnnouncedAndItsReplyServedAfterwards() {
        KernelCachingFilesystem fs = withHook();
        send(fs, FuseOpcode.GETATTR, FILE, new byte[16]);
        assertEquals(Optional.of(10L), sizeServed(FILE));
        files.get("a")[1] = 3;
        send(fs, FuseOpcode.SETATTR, FILE, new byte[88]);
        assertEquals(Optional.of(3L), sizeServed(FILE));
    }

    @Test
    void aWriteMakesTheNodesAttributesAndDataStale() {
        KernelCachingFilesystem fs = withHook();
        send(fs, FuseOpcode.GETATTR, FILE, new byte[16]);
        send(fs, FuseOpcode.READ, FILE, args(ReadIn.SIZE, b -> b.putLong(ReadIn.OFFSET, 0).putInt(ReadIn.SIZE_, 4096)));
        assertEquals("0123456789", new String(maps.read(FILE).orElseThrow(), StandardCharsets.US_ASCII));
        send(fs, FuseOpcode.WRITE, FILE, new byte[40]);
        assertEquals(Optional.empty(), sizeServed(FILE));
        assertEquals(Optional.empty(), maps.read(FILE));
    }

    @Test
    void onlyAReadThatSawTheEndOfTheFileFromItsStartFillsData() {
        KernelCachingFilesystem fs = withHook();
        send(fs, FuseOpcode.READ, FILE, args(ReadIn.SIZE, b -> b.putLong(ReadIn.OFFSET, 0).putInt(ReadIn.SIZE_, 10)));
        assertEquals(Optional.empty(), maps.read(FILE), "a full reply may not be the whole file");
        send(fs, FuseOpcode.READ, FILE, args(ReadIn.SIZE, b -> b.putLong(ReadIn.OFFSET, 4).putInt(ReadIn.SIZE_, 4096)));
        assertEquals(Optional.empty(), maps.read(FILE), "not from the start");
    }

    @Test
    void unlinkMakesTheDirectoryAndTheNodeStale() {
        KernelCachingFilesystem fs = withHook();
        send(fs, FuseOpcode.LOOKUP, ROOT, names(0, "a"));
        send(fs, FuseOpcode.UNLINK, ROOT, names(0, "a"));
        assertEquals(Optional.empty(), maps.lookup(ROOT, "a"));
        assertEquals(Optional.empty(), sizeServed(FILE), "nlink and ctime of the node changed");
    }

    @Test
    void renameMakesBothDirectoriesTheMovedAndTheReplacedNodeStale() {
        KernelCachingFilesystem fs = withHook();
        send(fs, FuseOpcode.LOOKUP, ROOT, names(0, "a"));
        send(fs, FuseOpcode.LOOKUP, ROOT, names(0, "d"));
        send(fs, FuseOpcode.LOOKUP, SUBDIR, names(0, "inner"));
        assertEquals(Optional.of(0L), maps.lookup(SUBDIR, "inner"));
        byte[] rename = names(RenameIn.SIZE, "a", "d");
        ByteBuffer.wrap(rename).order(ByteOrder.nativeOrder()).putLong(RenameIn.NEWDIR, ROOT);
        send(fs, FuseOpcode.RENAME, ROOT, rename);
        assertEquals(Optional.empty(), maps.lookup(ROOT, "a"));
        assertEquals(Optional.empty(), sizeServed(FILE));
        assertEquals(Optional.empty(), sizeServed(SUBDIR));
        assertEquals(Optional.empty(), maps.lookup(SUBDIR, "inner"), "entries under a replaced directory");
    }

    @Test
    void readdirplusFillsEveryNamedEntry() {
        KernelCachingFilesystem fs = withHook();
        send(fs, FuseOpcode.READDIRPLUS, ROOT, new byte[40]);
        assertEquals(Optional.of(FILE), maps.lookup(ROOT, "a"));
        assertEquals(Optional.of(SUBDIR), maps.lookup(ROOT, "d"));
        assertEquals(Optional.empty(), maps.lookup(ROOT, ".."), "dot entries are never keys");
    }

    @Test
    void aFileOpenForWritingWithPassthroughIsNotServedUntilReleased() {
        KernelCachingFilesystem fs = withHook();
        send(fs, FuseOpcode.GETATTR, FILE, new byte[16]);
        send(fs, FuseOpcode.OPEN, FILE, args(OpenIn.SIZE, b -> b.putInt(OpenIn.FLAGS, LinuxConstants.O_RDWR)));
        assertEquals(Optional.empty(), sizeServed(FILE));
        send(fs, FuseOpcode.GETATTR, FILE, new byte[16]);
        assertEquals(Optional.empty(), sizeServed(FILE), "size changes behind the daemon while it is open");
        send(fs, FuseOpcode.RELEASE, FILE, args(ReleaseIn.SIZE, b -> b.putLong(ReleaseIn.FH, 77)));
        send(fs, FuseOpcode.GETATTR, FILE, new byte[16]);
        assertEquals(Optional.of(10L), sizeServed(FILE));
    }

    @Test
    void aReadOnlyPassthroughOpenIsServedUntilItsReleaseMayHaveMovedTheAtime() {
        KernelCachingFilesystem fs = withHook();
        send(fs, FuseOpcode.GETATTR, FILE, new byte[16]);
        send(fs, FuseOpcode.OPEN, FILE, args(OpenIn.SIZE, b -> b.putInt(OpenIn.FLAGS, LinuxConstants.O_RDONLY)));
        assertEquals(Optional.of(10L), sizeServed(FILE));
        send(fs, FuseOpcode.RELEASE, FILE, args(ReleaseIn.SIZE, b -> b.putLong(ReleaseIn.FH, 77)));
        assertEquals(Optional.empty(), sizeServed(FILE));
    }

    @Test
    void forgetDropsTheNodeBeforeTheFilesystemMayReuseItsId() {
        KernelCachingFilesystem fs = withHook();
        send(fs, FuseOpcode.LOOKUP, ROOT, names(0, "a"));
        send(fs, FuseOpcode.FORGET, FILE, args(8, b -> b.putLong(0, 1)));
        assertEquals(List.of(FILE), forgotten);
        assertEquals(Optional.empty(), maps.lookup(ROOT, "a"));
        assertEquals(Optional.empty(), sizeServed(FILE));
    }

    /** Answers from {@link #files} as the real filesystem would, one fixed reply per opcode. */
    private final class ScriptedFilesystem implements FuseFilesystem {
        private void entry(FuseReply r, int off, long node, long size) {
            r.zero(off, EntryOut.SIZE);
            r.putU64(off + EntryOut.NODEID, node);
            r.putU64(off + EntryOut.GENERATION, 1);
            byte[] a = attr(size);
            for (int i = 0; i < a.length; i++) {
                r.putByte(off + EntryOut.ATTR + i, a[i]);
            }
        }

        private long[] fileOf(long node) {
            return files.values().stream().filter(f -> f[0] == node).findFirst().orElse(new long[] {node, 0});
        }

        @Override
        public int lookup(FuseRequest q, FuseReply r) {
            long[] f = q.nodeId() == ROOT ? files.get(q.string(0)) : null;
            if (f == null) {
                return Errno.ENOENT;
            }
            entry(r, 0, f[0], f[1]);
            r.payloadLength(EntryOut.SIZE);
            return 0;
        }

        @Override
        public void forget(long nodeId, long nlookup) {
            forgotten.add(nodeId);
        }

        private int attrOut(FuseRequest q, FuseReply r) {
            r.zero(0, AttrOut.SIZE);
            byte[] a = attr(fileOf(q.nodeId())[1]);
            for (int i = 0; i < a.length; i++) {
                r.putByte(AttrOut.ATTR + i, a[i]);
            }
            r.payloadLength(AttrOut.SIZE);
            return 0;
        }

        @Override
        public int getattr(FuseRequest q, FuseReply r) {
            return attrOut(q, r);
        }

        @Override
        public int setattr(FuseRequest q, FuseReply r) {
            return attrOut(q, r);
        }

        @Override
        public int unlink(FuseRequest q, FuseReply r) {
            files.remove(q.string(0));
            return 0;
        }

        @Override
        public int rename(FuseRequest q, FuseReply r, long newDir, int flags, int namesOffset) {
            return 0;
        }

        @Override
        public int open(FuseRequest q, FuseReply r) {
            r.zero(0, OpenOut.SIZE);
            r.putU64(OpenOut.FH, 77);
            r.putU32(OpenOut.OPEN_FLAGS, FuseAbi.FOPEN_PASSTHROUGH);
            r.payloadLength(OpenOut.SIZE);
            return 0;
        }

        @Override
        public int release(FuseRequest q, FuseReply r) {
            return 0;
        }

        @Override
        public int read(FuseRequest q, FuseReply r) {
            byte[] content = "0123456789".getBytes(StandardCharsets.US_ASCII);
            int off = (int) Math.min(content.length, q.u64(ReadIn.OFFSET));
            int n = Math.min(content.length - off, q.u32(ReadIn.SIZE_));
            for (int i = 0; i < n; i++) {
                r.putByte(i, content[off + i]);
            }
            r.payloadLength(n);
            return 0;
        }

        @Override
        public int write(FuseRequest q, FuseReply r) {
            return 0;
        }

        @Override
        public int readdir(FuseRequest q, FuseReply r, boolean plus) {
            int off = 0;
            for (String n : new String[] {"..", "a", "d"}) {
                long[] f = n.equals("..") ? new long[] {0, 0} : files.get(n);
                if (f[0] == 0) {
                    r.zero(off, EntryOut.SIZE);
                } else {
                    entry(r, off, f[0], f[1]);
                }
                r.putU64(off + Direntplus.DIRENT + Dirent.INO, 100 + f[0]);
                r.putU32(off + Direntplus.DIRENT + Dirent.NAMELEN, n.length());
                byte[] nb = n.getBytes(StandardCharsets.US_ASCII);
                for (int i = 0; i < nb.length; i++) {
                    r.putByte(off + Direntplus.SIZE + i, nb[i]);
                }
                off += (Direntplus.SIZE + nb.length + 7) & ~7;
            }
            r.payloadLength(off);
            return 0;
        }
    }
}
