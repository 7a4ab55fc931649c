package io.efuse.csi.fuse;

import io.efuse.csi.sys.CpuAffinity;
import io.efuse.csi.sys.ErrnoException;
import io.efuse.csi.sys.IoUring;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The FUSE-over-io_uring side of a session: one {@link FuseUringQueue} per possible CPU, because the
 * kernel sends a request to the queue of the CPU its caller runs on and switches a connection to the
 * rings only once every queue has an entry registered. FORGET and INTERRUPT keep arriving on
 * /dev/fuse, so the session's device workers keep running next to the queues.
 */
final class FuseUringTransport {
    private final FuseSession session;
    private final List<FuseUringQueue> queues = new ArrayList<>();
    private final CountDownLatch registered;
    private volatile Throwable failure;

    private FuseUringTransport(FuseSession session, int queueCount) {
        this.session = session;
        this.registered = new CountDownLatch(queueCount);
    }

    /**
     * Why io_uring cannot serve FUSE here, or null if it can: the module switch, the io_uring sysctl
     * and a probe ring with 128-byte SQEs (which FUSE's commands need).
     */
    static String unavailableReason(Path enableSwitch) {
        try {
            String v = Files.readString(enableSwitch).trim();
            if (!v.equals("Y") && !v.equals("1")) {
                return "the fuse module's enable_uring is " + v + " (" + enableSwitch + "); turn it on with"
                        + " `echo Y > " + UringQueues.ENABLE_URING + "` (Linux 6.14 or newer)";
            }
        } catch (IOException e) {
            return "this kernel has no FUSE-over-io_uring (" + enableSwitch + " is missing: Linux 6.14 or newer"
                    + " with CONFIG_FUSE_IO_URING is needed)";
        }
        try {
            String disabled = Files.readString(Path.of("/proc/sys/kernel/io_uring_disabled")).trim();
            if (disabled.equals("2")) {
                return "io_uring is disabled by the kernel.io_uring_disabled sysctl (2)";
            }
        } catch (IOException ignored) {
            // older kernels have no such sysctl
        }
        try (IoUring probe = IoUring.setup(1, IoUring.SETUP_SQE128, 0)) {
            return null;
        } catch (ErrnoException e) {
            return "io_uring cannot be set up here: " + e.getMessage()
                    + " (a seccomp profile or kernel.io_uring_disabled may forbid it)";
        }
    }

    /**
     * Starts a queue per possible CPU and waits until each has registered its entries. Throws if any
     * queue could not: the kernel then keeps the connection on /dev/fuse (a failed REGISTER turns
     * io_uring off for it), and queues that did register idle until the unmount ends them.
     */
    MutationGate mutationGate() {
        return session.mutationGate();
    }

    static FuseUringTransport start(FuseSession session, FuseFilesystem fs, int deviceFd, int entriesPerQueue,
            int payloadSize) throws IOException {
        int[] cpus = CpuAffinity.possible();
        FuseUringTransport t = new FuseUringTransport(session, cpus.length);
        String name = String.valueOf(session.mountPoint().getFileName());
        for (int qid = 0; qid < cpus.length; qid++) {
            t.queues.add(new FuseUringQueue(t, fs, name, qid, cpus[qid], deviceFd, entriesPerQueue, payloadSize));
        }
        session.membersStarting(t.queues.size());
        for (FuseUringQueue q : t.queues) {
            q.start();
        }
        try {
            if (!t.registered.await(10, TimeUnit.SECONDS)) {
                throw new IOException("FUSE io_uring queues did not register within 10 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while FUSE io_uring queues registered", e);
        }
        if (t.failure != null) {
            throw new IOException("FUSE io_uring queues could not register: " + t.failure.getMessage(), t.failure);
        }
        return t;
    }

    void registered(FuseUringQueue q, Throwable error) {
        if (error != null && failure == null) {
            failure = error;
        }
        registered.countDown();
    }

    void queueExited(FuseUringQueue q) {
        session.memberExited();
    }

    int queueCount() {
        return queues.size();
    }

    int pinnedCount() {
        int n = 0;
        for (FuseUringQueue q : queues) {
            n += q.pinned() ? 1 : 0;
        }
        return n;
    }

    void addCounts(long[] sum) {
        for (FuseUringQueue q : queues) {
            long[] c = q.counts();
            for (int i = 0; i < sum.length; i++) {
                sum[i] += c[i];
            }
        }
    }
}
