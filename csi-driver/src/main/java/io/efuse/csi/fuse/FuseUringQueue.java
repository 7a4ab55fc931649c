package io.efuse.csi.fuse;

import io.efuse.csi.fuse.FuseStructs.InHeader;
import io.efuse.csi.fuse.FuseUringStructs.CmdReq;
import io.efuse.csi.fuse.FuseUringStructs.ReqHeader;
import io.efuse.csi.sys.CpuAffinity;
import io.efuse.csi.sys.Errno;
import io.efuse.csi.sys.ErrnoException;
import io.efuse.csi.sys.IoUring;
import io.efuse.csi.sys.NativeMemory;
import java.nio.ByteBuffer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One FUSE-over-io_uring queue: a platform thread pinned to its CPU that owns an io_uring and a few
 * ring entries (header + payload buffers) registered with the kernel. The kernel puts requests made
 * by tasks on this CPU into a free entry and completes the entry's command; the thread answers in the
 * same buffers and hands the entry back with COMMIT_AND_FETCH, several at once per io_uring_enter.
 *
 * <p>Everything a request touches belongs to this thread, so the loop takes no locks and allocates
 * nothing. Replies to requests whose in-args fill the payload buffer (names, write data) are built in
 * a staging buffer and copied in afterwards, so an operation never overwrites arguments it still reads.
 */
final class FuseUringQueue implements Runnable {
    private static final Logger LOG = LoggerFactory.getLogger(FuseUringQueue.class);
    /** Largest reply to a request with payload in-args: an xattr value (XATTR_SIZE_MAX) and change. */
    private static final int STAGING_SIZE = 64 * 1024 + 4096;

    /** Buffers and codec objects of one ring entry. */
    private static final class Entry {
        final ByteBuffer header = NativeMemory.allocate(ReqHeader.SIZE);
        final ByteBuffer payload;
        final ByteBuffer iov = NativeMemory.allocate(32);
        final FuseRequest rq;
        final FuseReply direct;
        final FuseReply staged;

        Entry(int payloadSize, ByteBuffer staging) {
            // malloc'd, untouched: an entry costs resident memory only for the payload pages requests use.
            payload = NativeMemory.allocateUntouched(payloadSize);
            iov.putLong(0, NativeMemory.address(header)).putLong(8, ReqHeader.SIZE);
            iov.putLong(16, NativeMemory.address(payload)).putLong(24, payloadSize);
            rq = new FuseRequest(header);
            rq.bindSplit(header, ReqHeader.OP_IN, 0, payload, 0, 0);
            // The out header goes where the in header was (in_out); the payload into the entry or staging.
            direct = new FuseReply(header);
            direct.bindPayload(payload, 0, payloadSize);
            staged = new FuseReply(header);
            staged.bindPayload(staging, 0, staging.capacity());
        }
    }

    private final FuseUringTransport transport;
    private final FuseFilesystem fs;
    private final int qid;
    private final int cpu;
    private final int deviceFd;
    private final int entryCount;
    private final int payloadSize;
    private final Thread thread;
    private final long[] counts = new long[FuseOpcode.LIMIT];
    private volatile boolean pinned;
    /** The fd SQEs name: index 0 of the ring's fixed files, or the /dev/fuse fd itself. */
    private int sqeFd;
    private byte sqeFlags;

    FuseUringQueue(FuseUringTransport transport, FuseFilesystem fs, String name, int qid, int cpu, int deviceFd,
            int entryCount, int payloadSize) {
        this.transport = transport;
        this.fs = fs;
        this.qid = qid;
        this.cpu = cpu;
        this.deviceFd = deviceFd;
        this.entryCount = entryCount;
        this.payloadSize = payloadSize;
        this.thread = Thread.ofPlatform().daemon(true).name("fuse-uring-" + name + "-q" + qid).unstarted(this);
    }

    void start() {
        thread.start();
    }

    int qid() { return qid; }
    boolean pinned() { return pinned; }

    long[] counts() {
        return counts.clone();
    }

    @Override
    public void run() {
        IoUring ring = null;
        boolean reported = false;
        try {
            try {
                CpuAffinity.pinCurrentThread(cpu);
                pinned = true;
            } catch (ErrnoException | IllegalArgumentException e) {
                // A cpuset without this CPU: the queue still works, only without locality.
                LOG.warn("queue " + qid + " runs unpinned: " + e.getMessage());
            }
            Entry[] entries;
            ByteBuffer staging;
            try {
                ring = IoUring.setup(entryCount, IoUring.SETUP_SQE128,
                        IoUring.SETUP_SINGLE_ISSUER | IoUring.SETUP_DEFER_TASKRUN);
                staging = NativeMemory.allocate(STAGING_SIZE);
                entries = new Entry[entryCount];
                for (int i = 0; i < entryCount; i++) {
                    entries[i] = new Entry(payloadSize, staging);
                }
                register(ring, entries);
            } catch (ErrnoException | OutOfMemoryError e) {
                reported = true;
                transport.registered(this, e);
                return;
            }
            reported = true;
            transport.registered(this, null);
            if (serve(ring, entries, staging)) {
                // Every entry ended, so the kernel holds none of their buffers any more.
                ring.close();
                for (Entry e : entries) {
                    NativeMemory.free(e.payload);
                }
            }
        } catch (RuntimeException e) {
            LOG.error("FUSE queue " + qid + " failed", e);
            if (!reported) {
                reported = true;
                transport.registered(this, e);
            }
        } finally {
            if (!reported) {
                transport.registered(this, new IllegalStateException("queue " + qid + " stopped"));
            }
            if (ring != null) {
                ring.close();
            }
            transport.queueExited(this);
        }
    }

    /** Submits REGISTER for every entry and collects errors the kernel reports at once. */
    private void register(IoUring ring, Entry[] entries) throws ErrnoException {
        if (ring.registerFiles(deviceFd) == 0) {
            sqeFd = 0;
            sqeFlags = IoUring.SQE_FIXED_FILE;
        } else {
            sqeFd = deviceFd;
            sqeFlags = 0;
        }
        for (int i = 0; i < entries.length; i++) {
            int sqe = ring.nextSqe();
            ByteBuffer s = ring.sqes();
            prepareCommand(s, sqe, FuseUringStructs.CMD_REGISTER, i, 0);
            s.putLong(sqe + IoUring.Sqe.ADDR, NativeMemory.address(entries[i].iov));
            s.putInt(sqe + IoUring.Sqe.LEN, 2);
        }
        int r;
        do {
            r = ring.enter(0);
        } while (r == -Errno.EINTR);
        if (r < 0) {
            throw new ErrnoException("io_uring_enter (FUSE_IO_URING_CMD_REGISTER)", "queue " + qid, -r);
        }
        // A registered entry completes only when a request arrives: any completion now is a refusal.
        if (ring.hasCompletion() && ring.cqeResult() < 0) {
            throw new ErrnoException("FUSE_IO_URING_CMD_REGISTER", "queue " + qid, -ring.cqeResult());
        }
    }

    private void prepareCommand(ByteBuffer s, int sqe, int cmdOp, int entry, long commitId) {
        s.put(sqe + IoUring.Sqe.OPCODE, (byte) IoUring.OP_URING_CMD);
        s.put(sqe + IoUring.Sqe.FLAGS, sqeFlags);
        s.putInt(sqe + IoUring.Sqe.FD, sqeFd);
        s.putInt(sqe + IoUring.Sqe.CMD_OP, cmdOp);
        s.putLong(sqe + IoUring.Sqe.USER_DATA, entry);
        s.putLong(sqe + IoUring.Sqe.CMD + CmdReq.COMMIT_ID, commitId);
        s.putShort(sqe + IoUring.Sqe.CMD + CmdReq.QID, (short) qid);
    }

    /** Serves until every entry has ended; false if the ring failed first. */
    private boolean serve(IoUring ring, Entry[] entries, ByteBuffer staging) {
        int live = entries.length;
        Object workerState = null;
        while (live > 0) {
            int r = ring.enter(1);
            if (r < 0) {
                if (r == -Errno.EINTR) {
                    continue;
                }
                LOG.error("io_uring_enter on FUSE queue " + qid + ": " + Errno.name(-r));
                return false;
            }
            while (ring.hasCompletion()) {
                int idx = (int) ring.cqeUserData();
                int res = ring.cqeResult();
                ring.advanceCompletion();
                if (res < 0) {
                    // ENOTCONN/ECONNABORTED: unmounted or aborted; ECANCELED: the ring is going away.
                    if (res != -Errno.ENOTCONN && res != -Errno.ECONNABORTED && res != -Errno.ECANCELED) {
                        LOG.warn("FUSE queue " + qid + " entry " + idx + " ended: " + Errno.name(-res));
                    }
                    live--;
                    continue;
                }
                Entry e = entries[idx];
                if (e.rq.workerState() == null) {
                    e.rq.workerState(workerState);
                }
                long commitId = answer(e, staging);
                workerState = e.rq.workerState();
                int sqe = ring.nextSqe();
                if (sqe < 0) {
                    ring.enter(0);
                    sqe = ring.nextSqe();
                }
                prepareCommand(ring.sqes(), sqe, FuseUringStructs.CMD_COMMIT_AND_FETCH, idx, commitId);
            }
        }
        return true;
    }

    /** Serves the request in e and leaves the reply in e's buffers; returns the commit id. */
    private long answer(Entry e, ByteBuffer staging) {
        ByteBuffer h = e.header;
        long commitId = h.getLong(ReqHeader.ENT_COMMIT_ID);
        int payloadLength = h.getInt(ReqHeader.ENT_PAYLOAD_SZ);
        // The kernel copied the first in-arg to op_in and the rest to the payload: what the header's
        // length counts beyond both is the first in-arg's size.
        int split = h.getInt(InHeader.LEN) - InHeader.SIZE - payloadLength;
        FuseRequest rq = e.rq;
        FuseReply rp;
        if (split < 0 || split > ReqHeader.OP_IN_SIZE || payloadLength < 0 || payloadLength > payloadSize) {
            rp = e.direct;
            rp.begin(rq.unique());
            rp.error(Errno.EIO);
            LOG.warn("FUSE queue " + qid + ": malformed request (len " + h.getInt(InHeader.LEN)
                    + ", payload " + payloadLength + ")");
        } else {
            rq.nextSplit(split, payloadLength);
            int op = rq.opcode();
            if (op > 0 && op < counts.length) {
                counts[op]++;
            }
            rp = payloadLength == 0 ? e.direct : e.staged;
            RequestDispatcher.dispatch(fs, transport.mutationGate(), rq, rp);
            if (rp.suppressed()) {
                // Requests without replies (FORGET, INTERRUPT) travel over /dev/fuse; a ring entry must
                // still be committed to get it back.
                rp.begin(rq.unique());
                rp.error(Errno.ENOSYS);
            } else if (rp == e.staged && rp.payloadLength() > 0) {
                e.payload.put(0, staging, 0, rp.payloadLength());
            }
        }
        rp.seal();
        h.putInt(ReqHeader.ENT_PAYLOAD_SZ, rp.payloadLength());
        return commitId;
    }
}
