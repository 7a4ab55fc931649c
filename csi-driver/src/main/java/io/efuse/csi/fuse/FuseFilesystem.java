package io.efuse.csi.fuse;

import io.efuse.csi.sys.Errno;

/**
 * What a filesystem implements to be served over FUSE. Each operation reads its in-args from the
 * request (offsets from {@link FuseStructs}), fills the reply, and returns 0, or an errno (positive)
 * to answer with that error. Operations not overridden answer ENOSYS, which the kernel remembers for
 * most opcodes and stops sending. Calls arrive concurrently from several worker threads.
 */
public interface FuseFilesystem {
    /** Called once with what the kernel and the daemon agreed, before any other operation. */
    default void init(FuseConnection connection) {}

    default void destroy() {}

    default int lookup(FuseRequest rq, FuseReply rp) { return Errno.ENOSYS; }

    /** Drops nlookup references to nodeId (FORGET and BATCH_FORGET; never replied to). */
    default void forget(long nodeId, long nlookup) {}

    default int getattr(FuseRequest rq, FuseReply rp) { return Errno.ENOSYS; }
    default int setattr(FuseRequest rq, FuseReply rp) { return Errno.ENOSYS; }
    default int readlink(FuseRequest rq, FuseReply rp) { return Errno.ENOSYS; }
    default int symlink(FuseRequest rq, FuseReply rp) { return Errno.ENOSYS; }
    default int mknod(FuseRequest rq, FuseReply rp) { return Errno.ENOSYS; }
    default int mkdir(FuseRequest rq, FuseReply rp) { return Errno.ENOSYS; }
    default int unlink(FuseRequest rq, FuseReply rp) { return Errno.ENOSYS; }
    default int rmdir(FuseRequest rq, FuseReply rp) { return Errno.ENOSYS; }
    /** RENAME (flags 0) and RENAME2; flags are RENAME_NOREPLACE / RENAME_EXCHANGE. */
    default int rename(FuseRequest rq, FuseReply rp, long newDir, int flags, int namesOffset) { return Errno.ENOSYS; }
    default int link(FuseRequest rq, FuseReply rp) { return Errno.ENOSYS; }
    default int open(FuseRequest rq, FuseReply rp) { return Errno.ENOSYS; }
    default int create(FuseRequest rq, FuseReply rp) { return Errno.ENOSYS; }
    default int read(FuseRequest rq, FuseReply rp) { return Errno.ENOSYS; }
    default int write(FuseRequest rq, FuseReply rp) { return Errno.ENOSYS; }
    default int flush(FuseRequest rq, FuseReply rp) { return Errno.ENOSYS; }
    default int release(FuseRequest rq, FuseReply rp) { return Errno.ENOSYS; }
    default int fsync(FuseRequest rq, FuseReply rp) { return Errno.ENOSYS; }
    default int statfs(FuseRequest rq, FuseReply rp) { return Errno.ENOSYS; }
    default int setxattr(FuseRequest rq, FuseReply rp) { return Errno.ENOSYS; }
    default int getxattr(FuseRequest rq, FuseReply rp) { return Errno.ENOSYS; }
    default int listxattr(FuseRequest rq, FuseReply rp) { return Errno.ENOSYS; }
    default int removexattr(FuseRequest rq, FuseReply rp) { return Errno.ENOSYS; }
    default int opendir(FuseRequest rq, FuseReply rp) { return Errno.ENOSYS; }
    default int readdir(FuseRequest rq, FuseReply rp, boolean plus) { return Errno.ENOSYS; }
    default int releasedir(FuseRequest rq, FuseReply rp) { return Errno.ENOSYS; }
    default int fsyncdir(FuseRequest rq, FuseReply rp) { return Errno.ENOSYS; }
    default int access(FuseRequest rq, FuseReply rp) { return Errno.ENOSYS; }
    default int fallocate(FuseRequest rq, FuseReply rp) { return Errno.ENOSYS; }
    default int copyFileRange(FuseRequest rq, FuseReply rp) { return Errno.ENOSYS; }
    default int lseek(FuseRequest rq, FuseReply rp) { return Errno.ENOSYS; }
    default int tmpfile(FuseRequest rq, FuseReply rp) { return Errno.ENOSYS; }
}
