package io.efuse.csi.fuse;

import io.efuse.csi.fuse.FuseStructs.BatchForgetIn;
import io.efuse.csi.fuse.FuseStructs.ForgetIn;
import io.efuse.csi.fuse.FuseStructs.ForgetOne;
import io.efuse.csi.fuse.FuseStructs.Rename2In;
import io.efuse.csi.fuse.FuseStructs.RenameIn;
import io.efuse.csi.sys.Errno;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Routes one request to the filesystem operation for its opcode and records what it answered. */
public final class RequestDispatcher {
    private static final Logger LOG = LoggerFactory.getLogger(RequestDispatcher.class);

    private RequestDispatcher() {}

    /**
     * Fills rp for rq, holding a request that changes the volume while {@code gate} is closed; after it returns, rp
     * is either suppressed or ready to send.
     */
    public static void dispatch(FuseFilesystem fs, MutationGate gate, FuseRequest rq, FuseReply rp) {
        if (!MutationGate.mutates(rq)) {
            dispatch(fs, rq, rp);
            return;
        }
        gate.enter();
        try {
            dispatch(fs, rq, rp);
        } finally {
            gate.leave();
        }
    }

    /** Fills rp for rq; after it returns, rp is either suppressed or ready to send. */
    public static void dispatch(FuseFilesystem fs, FuseRequest rq, FuseReply rp) {
        rp.begin(rq.unique());
        int op = rq.opcode();
        int err;
        try {
            err = switch (op) {
                case FuseOpcode.LOOKUP -> fs.lookup(rq, rp);
                case FuseOpcode.FORGET -> {
                    fs.forget(rq.nodeId(), rq.u64(ForgetIn.NLOOKUP));
                    rp.suppress();
                    yield 0;
                }
                case FuseOpcode.BATCH_FORGET -> {
                    int count = rq.u32(BatchForgetIn.COUNT);
                    int max = (rq.argLength() - BatchForgetIn.SIZE) / ForgetOne.SIZE;
                    for (int i = 0, off = BatchForgetIn.SIZE; i < Math.min(count, max); i++, off += ForgetOne.SIZE) {
                        fs.forget(rq.u64(off + ForgetOne.NODEID), rq.u64(off + ForgetOne.NLOOKUP));
                    }
                    rp.suppress();
                    yield 0;
                }
                case FuseOpcode.GETATTR -> fs.getattr(rq, rp);
                case FuseOpcode.SETATTR -> fs.setattr(rq, rp);
                case FuseOpcode.READLINK -> fs.readlink(rq, rp);
                case FuseOpcode.SYMLINK -> fs.symlink(rq, rp);
                case FuseOpcode.MKNOD -> fs.mknod(rq, rp);
                case FuseOpcode.MKDIR -> fs.mkdir(rq, rp);
                case FuseOpcode.UNLINK -> fs.unlink(rq, rp);
                case FuseOpcode.RMDIR -> fs.rmdir(rq, rp);
                case FuseOpcode.RENAME -> fs.rename(rq, rp, rq.u64(RenameIn.NEWDIR), 0, RenameIn.SIZE);
                case FuseOpcode.RENAME2 -> fs.rename(rq, rp, rq.u64(Rename2In.NEWDIR), rq.u32(Rename2In.FLAGS),
                        Rename2In.SIZE);
                case FuseOpcode.LINK -> fs.link(rq, rp);
                case FuseOpcode.OPEN -> fs.open(rq, rp);
                case FuseOpcode.CREATE -> fs.create(rq, rp);
                case FuseOpcode.READ -> fs.read(rq, rp);
                case FuseOpcode.WRITE -> fs.write(rq, rp);
                case FuseOpcode.FLUSH -> fs.flush(rq, rp);
                case FuseOpcode.RELEASE -> fs.release(rq, rp);
                case FuseOpcode.FSYNC -> fs.fsync(rq, rp);
                case FuseOpcode.STATFS -> fs.statfs(rq, rp);
                case FuseOpcode.SETXATTR -> fs.setxattr(rq, rp);
                case FuseOpcode.GETXATTR -> fs.getxattr(rq, rp);
                case FuseOpcode.LISTXATTR -> fs.listxattr(rq, rp);
                case FuseOpcode.REMOVEXATTR -> fs.removexattr(rq, rp);
                case FuseOpcode.OPENDIR -> fs.opendir(rq, rp);
                case FuseOpcode.READDIR -> fs.readdir(rq, rp, false);
                case FuseOpcode.READDIRPLUS -> fs.readdir(rq, rp, true);
                case FuseOpcode.RELEASEDIR -> fs.releasedir(rq, rp);
                case FuseOpcode.FSYNCDIR -> fs.fsyncdir(rq, rp);
                case FuseOpcode.ACCESS -> fs.access(rq, rp);
                case FuseOpcode.FALLOCATE -> fs.fallocate(rq, rp);
                case FuseOpcode.COPY_FILE_RANGE -> fs.copyFileRange(rq, rp);
                case FuseOpcode.LSEEK -> fs.lseek(rq, rp);
                case FuseOpcode.TMPFILE -> fs.tmpfile(rq, rp);
                case FuseOpcode.INTERRUPT -> {
                    // Every operation runs to completion quickly against the backing filesystem, so an
                    // interrupt has nothing to cancel; the protocol allows ignoring it.
                    rp.suppress();
                    yield 0;
                }
                case FuseOpcode.DESTROY -> {
                    fs.destroy();
                    yield 0;
                }
                default -> Errno.ENOSYS;
            };
        } catch (RuntimeException e) {
            // A bug in one operation must not take the whole mount down: the caller gets EIO.
            LOG.error("FUSE " + FuseOpcode.name(op) + " on node " + rq.nodeId() + " failed", e);
            err = Errno.EIO;
        }
        if (err != 0) {
            rp.error(err);
        }
        fs.requestDone(rq);
    }
}
