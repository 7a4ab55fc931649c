package io.efuse.csi.fs;

import static io.efuse.csi.sys.LinuxConstants.*;

import io.efuse.csi.fuse.FuseAbi;
import io.efuse.csi.fuse.FuseReply;
import io.efuse.csi.fuse.FuseRequest;
import io.efuse.csi.fuse.FuseStructs.Dirent;
import io.efuse.csi.fuse.FuseStructs.Direntplus;
import io.efuse.csi.fuse.FuseStructs.EntryOut;
import io.efuse.csi.fuse.FuseStructs.FsyncIn;
import io.efuse.csi.fuse.FuseStructs.OpenOut;
import io.efuse.csi.fuse.FuseStructs.ReadIn;
import io.efuse.csi.fuse.FuseStructs.ReleaseIn;
import io.efuse.csi.sys.Errno;
import io.efuse.csi.sys.LibC;
import java.nio.ByteBuffer;

/** Open directories of an {@link EfuseFilesystem}: OPENDIR, READDIR and READDIRPLUS, RELEASEDIR, FSYNCDIR. */
final class Directories {
    private final EfuseFilesystem fs;
    private final InodeTable inodes;
    private final FileHandles handles;

    Directories(EfuseFilesystem fs, InodeTable inodes, FileHandles handles) {
        this.fs = fs;
        this.inodes = inodes;
        this.handles = handles;
    }

    int opendir(FuseRequest rq, FuseReply rp, Inode inode) {
        WorkerScratch s = EfuseFilesystem.scratch(rq);
        s.buf.put(WorkerScratch.SMALL, (byte) '.').put(WorkerScratch.SMALL + 1, (byte) 0);
        int fd = LibC.openat(inode.fd, s.small(), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        if (fd < 0) {
            return LibC.errno();
        }
        long fh = handles.fhOf(fd, -1);
        handles.opened(fh, inode.nodeId, O_RDONLY | O_DIRECTORY);
        rp.putU64(OpenOut.FH, fh);
        // Listings change only through this mount, which invalidates the kernel's cached copy itself.
        rp.putU32(OpenOut.OPEN_FLAGS, FuseAbi.FOPEN_CACHE_DIR | FuseAbi.FOPEN_KEEP_CACHE);
        rp.putU32(OpenOut.BACKING_ID, 0);
        rp.payloadLength(OpenOut.SIZE);
        return 0;
    }

    int readdir(FuseRequest rq, FuseReply rp, boolean plus) {
        int fd = fs.fileFd(rq.nodeId(), rq.u64(ReadIn.FH));
        long offset = rq.u64(ReadIn.OFFSET);
        int size = Math.min(rq.u32(ReadIn.SIZE_), rp.capacity());
        Inode dir = plus ? inodes.get(rq.nodeId()) : null;
        if (plus && dir == null) {
            return Errno.ESTALE;
        }
        WorkerScratch s = EfuseFilesystem.scratch(rq);
        if (LibC.lseek(fd, offset, SEEK_SET) < 0) {
            return LibC.errno();
        }
        ByteBuffer d = s.buf;
        int out = 0;
        long resumeAt = offset;
        outer:
        while (true) {
            // Ask for no more entries than could fit, so few are read only to be sought back over.
            int want = Math.min(WorkerScratch.DIRENTS_SIZE, Math.max(4096, size - out));
            long n = LibC.syscall(SYS_GETDENTS64, fd, s.dirents(), want, 0, 0, 0);
            if (n < 0) {
                if (out > 0) {
                    break;
                }
                return LibC.errno();
            }
            if (n == 0) {
                break;
            }
            int p = WorkerScratch.DIRENTS;
            int end = p + (int) n;
            while (p < end) {
                long ino = d.getLong(p);
                long next = d.getLong(p + 8);
                int reclen = d.getShort(p + 16) & 0xffff;
                int type = d.get(p + 18) & 0xff;
                int nameAt = p + 19;
                int nameLen = 0;
                while (d.get(nameAt + nameLen) != 0) {
                    nameLen++;
                }
                int fixed = plus ? Direntplus.SIZE : Dirent.SIZE;
                int rec = (fixed + nameLen + 7) & ~7;
                if (out + rec > size) {
                    LibC.lseek(fd, resumeAt, SEEK_SET);
                    break outer;
                }
                int dirent = out;
                if (plus) {
                    boolean dot = nameLen <= 2 && d.get(nameAt) == '.' && (nameLen == 1 || d.get(nameAt + 1) == '.');
                    if (dot) {
                        rp.zero(out, EntryOut.SIZE);
                    } else {
                        int cfd = LibC.openat(dir.fd, s.dirents() + (nameAt - WorkerScratch.DIRENTS), EfuseFilesystem.PATH_FLAGS, 0);
                        if (cfd < 0 || fs.entry(s, rp, out, cfd) != 0) {
                            // Gone meanwhile: list the name without attributes, as a plain readdir would.
                            rp.zero(out, EntryOut.SIZE);
                        }
                    }
                    dirent = out + Direntplus.DIRENT;
                }
                rp.putU64(dirent + Dirent.INO, ino);
                rp.putU64(dirent + Dirent.OFF, next);
                rp.putU32(dirent + Dirent.NAMELEN, nameLen);
                rp.putU32(dirent + Dirent.TYPE, type);
                rp.copyFrom(d, nameAt, dirent + Dirent.SIZE, nameLen);
                int pad = out + rec - (dirent + Dirent.SIZE + nameLen);
                if (pad > 0) {
                    rp.zero(dirent + Dirent.SIZE + nameLen, pad);
                }
                out += rec;
                resumeAt = next;
                p += reclen;
            }
        }
        rp.payloadLength(out);
        return 0;
    }

    int releasedir(FuseRequest rq, FuseReply rp) {
        handles.closeFile(rq.nodeId(), rq.u64(ReleaseIn.FH));
        return 0;
    }

    int fsyncdir(FuseRequest rq, FuseReply rp) {
        int fd = fs.fileFd(rq.nodeId(), rq.u64(FsyncIn.FH));
        return LibC.fsync(fd) < 0 ? LibC.errno() : 0;
    }
}
