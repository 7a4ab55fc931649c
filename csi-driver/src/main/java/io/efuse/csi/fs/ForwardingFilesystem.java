package io.efuse.csi.fs;

import io.efuse.csi.fuse.FuseConnection;
import io.efuse.csi.fuse.FuseFilesystem;
import io.efuse.csi.fuse.FuseReply;
import io.efuse.csi.fuse.FuseRequest;

/**
 * A filesystem in front of another that passes every operation through: a decorator extends it and overrides
 * only what it adds to. The type parameter lets a decorator reach what its filesystem offers beyond FUSE.
 */
abstract class ForwardingFilesystem<F extends FuseFilesystem> implements FuseFilesystem {
    final F fs;

    ForwardingFilesystem(F fs) {
        this.fs = fs;
    }

    @Override public void init(FuseConnection connection) { fs.init(connection); }
    @Override public void destroy() { fs.destroy(); }
    @Override public void requestDone(FuseRequest rq) { fs.requestDone(rq); }
    @Override public int lookup(FuseRequest rq, FuseReply rp) { return fs.lookup(rq, rp); }
    @Override public void forget(long nodeId, long nlookup) { fs.forget(nodeId, nlookup); }
    @Override public int getattr(FuseRequest rq, FuseReply rp) { return fs.getattr(rq, rp); }
    @Override public int setattr(FuseRequest rq, FuseReply rp) { return fs.setattr(rq, rp); }
    @Override public int readlink(FuseRequest rq, FuseReply rp) { return fs.readlink(rq, rp); }
    @Override public int symlink(FuseRequest rq, FuseReply rp) { return fs.symlink(rq, rp); }
    @Override public int mknod(FuseRequest rq, FuseReply rp) { return fs.mknod(rq, rp); }
    @Override public int mkdir(FuseRequest rq, FuseReply rp) { return fs.mkdir(rq, rp); }
    @Override public int unlink(FuseRequest rq, FuseReply rp) { return fs.unlink(rq, rp); }
    @Override public int rmdir(FuseRequest rq, FuseReply rp) { return fs.rmdir(rq, rp); }

    @Override
    public int rename(FuseRequest rq, FuseReply rp, long newDir, int flags, int namesOffset) {
        return fs.rename(rq, rp, newDir, flags, namesOffset);
    }

    @Override public int link(FuseRequest rq, FuseReply rp) { return fs.link(rq, rp); }
    @Override public int open(FuseRequest rq, FuseReply rp) { return fs.open(rq, rp); }
    @Override public int create(FuseRequest rq, FuseReply rp) { return fs.create(rq, rp); }
    @Override public int read(FuseRequest rq, FuseReply rp) { return fs.read(rq, rp); }
    @Override public int write(FuseRequest rq, FuseReply rp) { return fs.write(rq, rp); }
    @Override public int flush(FuseRequest rq, FuseReply rp) { return fs.flush(rq, rp); }
    @Override public int release(FuseRequest rq, FuseReply rp) { return fs.release(rq, rp); }
    @Override public int fsync(FuseRequest rq, FuseReply rp) { return fs.fsync(rq, rp); }
    @Override public int statfs(FuseRequest rq, FuseReply rp) { return fs.statfs(rq, rp); }
    @Override public int setxattr(FuseRequest rq, FuseReply rp) { return fs.setxattr(rq, rp); }
    @Override public int getxattr(FuseRequest rq, FuseReply rp) { return fs.getxattr(rq, rp); }
    @Override public int listxattr(FuseRequest rq, FuseReply rp) { return fs.listxattr(rq, rp); }
    @Override public int removexattr(FuseRequest rq, FuseReply rp) { return fs.removexattr(rq, rp); }
    @Override public int opendir(FuseRequest rq, FuseReply rp) { return fs.opendir(rq, rp); }
    @Override public int readdir(FuseRequest rq, FuseReply rp, boolean plus) { return fs.readdir(rq, rp, plus); }
    @Override public int releasedir(FuseRequest rq, FuseReply rp) { return fs.releasedir(rq, rp); }
    @Override public int fsyncdir(FuseRequest rq, FuseReply rp) { return fs.fsyncdir(rq, rp); }
    @Override public int access(FuseRequest rq, FuseReply rp) { return fs.access(rq, rp); }
    @Override public int fallocate(FuseRequest rq, FuseReply rp) { return fs.fallocate(rq, rp); }
    @Override public int copyFileRange(FuseRequest rq, FuseReply rp) { return fs.copyFileRange(rq, rp); }
    @Override public int lseek(FuseRequest rq, FuseReply rp) { return fs.lseek(rq, rp); }
    @Override public int tmpfile(FuseRequest rq, FuseReply rp) { return fs.tmpfile(rq, rp); }
}
