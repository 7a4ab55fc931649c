package io.efuse.csi.fs;

import static io.efuse.csi.sys.LinuxConstants.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import io.efuse.csi.fuse.FuseOpcode;
import io.efuse.csi.fuse.FuseReply;
import io.efuse.csi.fuse.FuseRequest;
import io.efuse.csi.fuse.FuseStructs.Attr;
import io.efuse.csi.fuse.FuseStructs.EntryOut;
import io.efuse.csi.fuse.FuseStructs.InHeader;
import io.efuse.csi.sys.Errno;
import io.efuse.csi.sys.NativeMemory;
import io.efuse.csi.sys.Statx;
import io.efuse.csi.sys.Syscalls;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * LOOKUP as the filesystem answers it, driven with requests built byte by byte (no kernel, no mount):
 * "." and ".." never resolve outside the backing root, and symlinks are nodes of their own.
 */
class EfuseFilesystemLookupTest {
    @TempDir
    Path tmp;
    private Path backing;
    private EfuseFilesystem fs;
    private final ByteBuffer in = NativeMemory.allocate(4096);
    private final FuseRequest rq = new FuseRequest(in);
    private final FuseReply rp = new FuseReply(NativeMemory.allocate(4096));
    private long unique;

    @BeforeEach
    void open() throws Exception {
        backing = Files.createDirectories(tmp.resolve("parent/backing"));
        Files.writeString(tmp.resolve("parent/escaped"), "outside");
        Files.createDirectories(backing.resolve("sub/deeper"));
        Files.createSymbolicLink(backing.resolve("up"), Path.of(".."));
        Files.createSymbolicLink(backing.resolve("abs"), tmp.resolve("parent"));
        int rootFd = Syscalls.open(backing, O_PATH | O_DIRECTORY, 0);
        Statx st = Syscalls.fstatx(rootFd);
        MountOptions options = MountOptions.builder(backing, tmp.resolve("unused-mount-point")).build();
        fs = new EfuseFilesystem(options, rootFd, ((long) st.devMajor() << 32) | (st.devMinor() & 0xffffffffL),
                st.ino());
    }

    @AfterEach
    void close() {
        fs.destroy();
    }

    /** Sends LOOKUP(parent, name); returns the errno (0 on success) and leaves the entry in rp. */
    private int lookup(long parent, String name) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        int len = InHeader.SIZE + n.length + 1;
        in.putInt(InHeader.LEN, len).putInt(InHeader.OPCODE, FuseOpcode.LOOKUP).putLong(InHeader.UNIQUE, ++unique)
                .putLong(InHeader.NODEID, parent).putInt(InHeader.UID, 0).putInt(InHeader.GID, 0)
                .putInt(InHeader.PID, 1).putShort(InHeader.TOTAL_EXTLEN, (short) 0).putShort(InHeader.PADDING, (short) 0);
        in.put(InHeader.SIZE, n).put(InHeader.SIZE + n.length, (byte) 0);
        if (!rq.acceptContiguous(len)) {
            throw new IllegalStateException("request not accepted");
        }
        rp.begin(unique);
        return fs.lookup(rq, rp);
    }

    private long nodeId() {
        return rp.getU64(EntryOut.NODEID);
    }

    private long ino() {
        return rp.getU64(EntryOut.ATTR + Attr.INO);
    }

    private int mode() {
        return rp.getU32(EntryOut.ATTR + Attr.MODE);
    }

    private long inoOf(Path p) throws Exception {
        return Syscalls.statx(p).ino();
    }

    @Test
    void dotDotAtTheRootIsTheRoot() throws Exception {
        assertEquals(0, lookup(1, ".."));
        assertEquals(1, nodeId());
        assertEquals(inoOf(backing), ino());
        assertNotEquals(inoOf(backing.getParent()), ino());
        assertEquals(EntryOut.SIZE, rp.payloadLength());
    }

    @Test
    void dotAtTheRootIsTheRoot() throws Exception {
        assertEquals(0, lookup(1, "."));
        assertEquals(1, nodeId());
        assertEquals(inoOf(backing), ino());
    }

    @Test
    void dotDotBelowTheRootIsTheParentDirectory() throws Exception {
        assertEquals(0, lookup(1, "sub"));
        long sub = nodeId();
        assertEquals(0, lookup(sub, "deeper"));
        long deeper = nodeId();
        assertEquals(0, lookup(deeper, ".."));
        assertEquals(sub, nodeId());
        assertEquals(0, lookup(sub, ".."));
        assertEquals(1, nodeId());
        assertEquals(0, lookup(sub, "."));
        assertEquals(sub, nodeId());
    }

    @Test
    void symlinksAreNodesNotFollowed() throws Exception {
        assertEquals(0, lookup(1, "up"));
        assertEquals(S_IFLNK, mode() & S_IFMT);
        assertEquals(inoOf(backing.resolve("up")), ino());
        assertEquals(0, lookup(1, "abs"));
        assertEquals(S_IFLNK, mode() & S_IFMT);
        assertNotEquals(inoOf(tmp.resolve("parent")), ino());
    }

    @Test
    void aNameNotInTheTreeIsNotFound() {
        int err = lookup(1, "escaped");
        // A negative entry (node 0) or ENOENT, depending on the entry timeout: never the file beside the root.
        if (err == 0) {
            assertEquals(0, nodeId());
        } else {
            assertEquals(Errno.ENOENT, err);
        }
    }

    @Test
    void theSameFileIsOneNodeAndLookupsAreCounted() throws Exception {
        assertEquals(0, lookup(1, "sub"));
        long first = nodeId();
        assertEquals(0, lookup(1, "sub"));
        assertEquals(first, nodeId());
        assertEquals(2, fs.nodeCount(), "root and sub");
    }

    @Test
    void staleParentIsRefused() {
        assertEquals(Errno.ESTALE, lookup(999, "sub"));
    }
}
