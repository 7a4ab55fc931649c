package io.efuse.csi.fs;

import static io.efuse.csi.sys.LinuxConstants.*;

import io.efuse.csi.fuse.FuseOpcode;
import io.efuse.csi.fuse.FuseReply;
import io.efuse.csi.fuse.FuseRequest;
import io.efuse.csi.fuse.FuseStructs.Attr;
import io.efuse.csi.fuse.FuseStructs.CreateIn;
import io.efuse.csi.fuse.FuseStructs.EntryOut;
import io.efuse.csi.fuse.FuseStructs.LinkIn;
import io.efuse.csi.fuse.FuseStructs.MkdirIn;
import io.efuse.csi.fuse.FuseStructs.MknodIn;
import io.efuse.csi.sys.Errno;

/**
 * Makes metadata changes safe to receive twice. After a daemon restart the kernel delivers again
 * (FUSE_NOTIFY_RESEND, unique marked with bit 63) every request the dead daemon had read and not
 * answered; some of them it had already carried out. Each change is logged (intent before, completion
 * with its result after) and a resent one that the log shows as started is answered as the first
 * attempt would have been: an O_EXCL create or a mkdir that finds its own file succeeds, an unlink or
 * rename whose source is gone succeeds. Data requests need no log: WRITE carries its offset and
 * writes the same bytes again; SETATTR sets absolute values. The rules are in docs/crash-recovery.md.
 */
final class ReplaySafeFilesystem extends ForwardingFilesystem<EfuseFilesystem> {
    static final long RESEND = 1L << 63;
    /** Slack for file times taken from the kernel's coarse clock, which may lag the log's clock. */
    private static final long CLOCK_SLACK_MS = 50;

    private final VolumeState state;

    ReplaySafeFilesystem(EfuseFilesystem fs, VolumeState state) {
        super(fs);
        this.state = state;
    }

    /** The log's record of this request if it is a resend that the previous daemon had started. */
    private StateJournal.Op prior(FuseRequest rq) {
        return rq.unique() < 0 ? state.op(rq.unique() & ~RESEND) : null;
    }

    /** Whether name in parent is the file the logged change made. */
    private boolean ours(StateJournal.Op op, long parent, long name) {
        long[] id = fs.identityOf(parent, name);
        if (id == null) {
            return false;
        }
        return op.done() ? id[0] == op.ino() : id[1] >= op.timeMillis() - CLOCK_SLACK_MS;
    }

    private interface Change {
        int run();
    }

    /** Runs a change between its intent and completion records; fixup decides for a replay that failed. */
    private int logged(FuseRequest rq, FuseReply rp, int opcode, boolean entry, Change change, ReplayFix fix) {
        StateJournal.Op prior = prior(rq);
        long unique = rq.unique() & ~RESEND;
        if (prior == null) {
            state.intent(unique, opcode);
        }
        int r = change.run();
        if (r != 0 && prior != null) {
            r = fix.decide(r, prior);
        }
        if (r == 0 && prior == null) {
            state.done(unique, opcode, entry ? rp.getU64(EntryOut.ATTR + Attr.INO) : 0);
        }
        return r;
    }

    private interface ReplayFix {
        int decide(int err, StateJournal.Op prior);
    }

    /** A replayed create-like change that found its name taken by its own earlier result answers with the entry. */
    private ReplayFix existsIsOurs(FuseRequest rq, FuseReply rp, int nameOff) {
        return (err, prior) -> err == Errno.EEXIST && ours(prior, rq.nodeId(), rq.argAddress(nameOff))
                ? fs.entryOf(rq.nodeId(), rq.argAddress(nameOff), rp) : err;
    }

    @Override
    public int create(FuseRequest rq, FuseReply rp) {
        StateJournal.Op prior = prior(rq);
        int flags = rq.u32(CreateIn.FLAGS);
        if (prior != null && (flags & O_EXCL) != 0 && ours(prior, rq.nodeId(), rq.argAddress(CreateIn.SIZE))) {
            // Created by the first attempt, whose reply never arrived: open it, without truncating it again.
            rq.putU32(CreateIn.FLAGS, flags & ~(O_EXCL | O_TRUNC));
        }
        return logged(rq, rp, FuseOpcode.CREATE, true, () -> fs.create(rq, rp), (e, p) -> e);
    }

    @Override
    public int mkdir(FuseRequest rq, FuseReply rp) {
        return logged(rq, rp, FuseOpcode.MKDIR, true, () -> fs.mkdir(rq, rp), existsIsOurs(rq, rp, MkdirIn.SIZE));
    }

    @Override
    public int mknod(FuseRequest rq, FuseReply rp) {
        return logged(rq, rp, FuseOpcode.MKNOD, true, () -> fs.mknod(rq, rp), existsIsOurs(rq, rp, MknodIn.SIZE));
    }

    @Override
    public int symlink(FuseRequest rq, FuseReply rp) {
        return logged(rq, rp, FuseOpcode.SYMLINK, true, () -> fs.symlink(rq, rp), existsIsOurs(rq, rp, 0));
    }

    @Override
    public int link(FuseRequest rq, FuseReply rp) {
        return logged(rq, rp, FuseOpcode.LINK, true, () -> fs.link(rq, rp), existsIsOurs(rq, rp, LinkIn.SIZE));
    }

    @Override
    public int unlink(FuseRequest rq, FuseReply rp) {
        return logged(rq, rp, FuseOpcode.UNLINK, false, () -> fs.unlink(rq, rp),
                (e, p) -> e == Errno.ENOENT ? 0 : e);
    }

    @Override
    public int rmdir(FuseRequest rq, FuseReply rp) {
        return logged(rq, rp, FuseOpcode.RMDIR, false, () -> fs.rmdir(rq, rp),
                (e, p) -> e == Errno.ENOENT ? 0 : e);
    }

    @Override
    public int rename(FuseRequest rq, FuseReply rp, long newDir, int flags, int namesOffset) {
        int newOff = namesOffset + rq.stringLength(namesOffset) + 1;
        return logged(rq, rp, FuseOpcode.RENAME, false, () -> fs.rename(rq, rp, newDir, flags, namesOffset),
                (e, p) -> {
                    boolean sourceGone = fs.identityOf(rq.nodeId(), rq.argAddress(namesOffset)) == null;
                    boolean targetThere = fs.identityOf(newDir, rq.argAddress(newOff)) != null;
                    // Moved by the first attempt: the source is gone (ENOENT) or, with RENAME_NOREPLACE,
                    // the target it made now blocks the retry (EEXIST).
                    return (e == Errno.ENOENT || e == Errno.EEXIST) && sourceGone && targetThere ? 0 : e;
                });
    }
}
