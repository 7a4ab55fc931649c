package io.efuse.csi.fs;

import static io.efuse.csi.sys.LinuxConstants.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.efuse.csi.fuse.FuseOpcode;
import io.efuse.csi.fuse.FuseReply;
import io.efuse.csi.fuse.FuseRequest;
import io.efuse.csi.fuse.FuseStructs.Attr;
import io.efuse.csi.fuse.FuseStructs.Dirent;
import io.efuse.csi.fuse.FuseStructs.Direntplus;
import io.efuse.csi.fuse.FuseStructs.EntryOut;
import io.efuse.csi.fuse.FuseStructs.InHeader;
import io.efuse.csi.fuse.FuseStructs.OpenOut;
import io.efuse.csi.fuse.FuseStructs.ReadIn;
import io.efuse.csi.fuse.FuseStructs.ReleaseIn;
import io.efuse.csi.sys.NativeMemory;
import io.efuse.csi.sys.Statx;
import io.efuse.csi.sys.Syscalls;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;

/**
 * READDIR and READDIRPLUS replies decoded record by record (offsets verified against the kernel header
 * by FuseHeaderLayoutTest): every name exactly once across requests resumed by offset, records 8-byte
 * aligned with zeroed padding, and each direntplus entry carrying the attributes of the backing file.
 */
class EfuseFilesystemReaddirTest {
    @TempDir
    Path tmp;
    private Path backing;
    private EfuseFilesystem fs;
    private final ByteBuffer in = NativeMemory.allocate(4096);
    private final FuseRequest rq = new FuseRequest(in);
    private final FuseReply rp = new FuseReply(NativeMemory.allocate(1 << 17));
    private long unique;

    @BeforeEach
    void open() throws Exception {
        backing = Files.createDirectories(tmp.resolve("backing"));
        for (int i = 0; i < 300; i++) {
            Files.writeString(backing.resolve("file-" + i + "-" + "n".repeat(i % 50)), "x".repeat(i));
        }
        Files.createDirectory(backing.resolve("dir"));
        Files.createSymbolicLink(backing.resolve("link"), Path.of("../outside"));
        int rootFd = Syscalls.open(backing, O_PATH | O_DIRECTORY, 0);
        Statx st = Syscalls.fstatx(rootFd);
        fs = new EfuseFilesystem(MountOptions.builder(backing, tmp.resolve("unused")).build(), rootFd,
                ((long) st.devMajor() << 32) | (st.devMinor() & 0xffffffffL), st.ino());
    }

    @AfterEach
    void close() {
        fs.destroy();
    }

    private void header(int opcode, long node, int argLength) {
        in.putInt(InHeader.LEN, InHeader.SIZE + argLength).putInt(InHeader.OPCODE, opcode)
                .putLong(InHeader.UNIQUE, ++unique).putLong(InHeader.NODEID, node).putInt(InHeader.UID, 0)
                .putInt(InHeader.GID, 0).putInt(InHeader.PID, 1).putInt(InHeader.TOTAL_EXTLEN, 0);
        if (!rq.acceptContiguous(InHeader.SIZE + argLength)) {
            throw new IllegalStateException("request not accepted");
        }
        rp.begin(unique);
    }

    private long opendir() {
        in.putInt(InHeader.SIZE, O_RDONLY | O_DIRECTORY).putInt(InHeader.SIZE + 4, 0);
        header(FuseOpcode.OPENDIR, 1, 8);
        assertEquals(0, fs.opendir(rq, rp));
        return rp.getU64(OpenOut.FH);
    }

    private int readdir(long fh, long offset, int size, boolean plus) {
        for (int i = 0; i < ReadIn.SIZE; i += 4) {
            in.putInt(InHeader.SIZE + i, 0);
        }
        in.putLong(InHeader.SIZE + ReadIn.FH, fh).putLong(InHeader.SIZE + ReadIn.OFFSET, offset)
                .putInt(InHeader.SIZE + ReadIn.SIZE_, size);
        header(plus ? FuseOpcode.READDIRPLUS : FuseOpcode.READDIR, 1, ReadIn.SIZE);
        return fs.readdir(rq, rp, plus);
    }

    private void releasedir(long fh) {
        in.putLong(InHeader.SIZE + ReleaseIn.FH, fh);
        header(FuseOpcode.RELEASEDIR, 1, ReleaseIn.SIZE);
        assertEquals(0, fs.releasedir(rq, rp));
    }

    private ByteBuffer payload() {
        ByteBuffer b = rp.buffer().duplicate().order(rp.buffer().order());
        return b.position(16).slice().order(rp.buffer().order()).limit(rp.payloadLength());
    }

    @ParameterizedTest(name = "{0} in requests of {1} bytes")
    @CsvSource({"READDIR, 4096", "READDIR, 200", "READDIRPLUS, 4096", "READDIRPLUS, 400"})
    void everyNameOnceWithTheBackingFilesAttributes(String op, int size) throws Exception {
        boolean plus = op.equals("READDIRPLUS");
        Map<String, Integer> seen = new HashMap<>();
        long fh = opendir();
        long offset = 0;
        int requests = 0;
        List<String> problems = new ArrayList<>();
        while (true) {
            assertEquals(0, readdir(fh, offset, size, plus));
            requests++;
            ByteBuffer b = payload();
            if (b.limit() == 0) {
                break;
            }
            assertTrue(b.limit() <= size, "reply of " + b.limit() + " bytes for a request of " + size);
            int p = 0;
            while (p < b.limit()) {
                int d = plus ? p + Direntplus.DIRENT : p;
                int nameLen = b.getInt(d + Dirent.NAMELEN);
                byte[] n = new byte[nameLen];
                b.get(d + Dirent.SIZE, n);
                String name = new String(n, StandardCharsets.UTF_8);
                int rec = ((plus ? Direntplus.SIZE : Dirent.SIZE) + nameLen + 7) & ~7;
                for (int q = d + Dirent.SIZE + nameLen; q < p + rec; q++) {
                    if (b.get(q) != 0) {
                        problems.add(name + ": padding byte not zero");
                    }
                }
                long ino = b.getLong(d + Dirent.INO);
                int type = b.getInt(d + Dirent.TYPE);
                seen.merge(name, 1, Integer::sum);
                if (!name.equals(".") && !name.equals("..")) {
                    Statx st = Syscalls.statx(backing.resolve(name));
                    if (ino != st.ino()) {
                        problems.add(name + ": dirent ino " + ino + " != " + st.ino());
                    }
                    if (type != (st.mode() & S_IFMT) >> 12) {
                        problems.add(name + ": dirent type " + type);
                    }
                    if (plus) {
                        long nodeId = b.getLong(p + EntryOut.NODEID);
                        int a = p + EntryOut.ATTR;
                        if (nodeId < 2 || b.getLong(a + Attr.INO) != st.ino() || b.getLong(a + Attr.SIZE_) != st.size()
                                || b.getInt(a + Attr.MODE) != st.mode() || b.getInt(a + Attr.NLINK) != st.nlink()) {
                            problems.add(name + ": entry_out does not describe the backing file");
                        }
                    }
                } else if (plus && b.getLong(p + EntryOut.NODEID) != 0) {
                    // "." and ".." get no entry: the kernel must never learn a node for the parent of the root.
                    problems.add(name + ": has node " + b.getLong(p + EntryOut.NODEID));
                }
                offset = b.getLong(d + Dirent.OFF);
                p += rec;
            }
            assertEquals(b.limit(), p, "records fill the reply exactly");
        }
        releasedir(fh);
        assertEquals(List.of(), problems);
        TreeSet<String> expected = new TreeSet<>(List.of(backing.toFile().list()));
        expected.add(".");
        expected.add("..");
        assertEquals(expected, new TreeSet<>(seen.keySet()));
        seen.forEach((name, times) -> assertEquals(1, times, name + " listed " + times + " times"));
        assertTrue(requests > (size < 1000 ? 20 : 2), "the listing should span several requests, took " + requests);
        if (plus) {
            assertEquals(1 + 302, fs.nodeCount(), "one node per entry listed with attributes");
        } else {
            assertEquals(1, fs.nodeCount());
        }
        assertNotEquals(0, offset);
    }
}
