package io.efuse.csi.sys;

import static io.efuse.csi.sys.LinuxConstants.*;

import com.sun.jna.Pointer;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * One io_uring instance: its submission and completion rings and its SQE array mapped into this
 * process. Not thread-safe by design: a ring belongs to the thread that created it (which also lets
 * the kernel run completion work only when that thread asks for events, with
 * {@link #SETUP_SINGLE_ISSUER} and {@link #SETUP_DEFER_TASKRUN}).
 *
 * <p>Memory ordering follows io_uring(7): the kernel reads the SQ tail and writes the SQ head, and
 * writes the CQ tail and reads the CQ head; our side stores its indexes with release semantics and
 * loads the kernel's with acquire semantics, so SQE contents are visible before the tail that
 * publishes them and CQE contents are read only after the tail that announced them.
 */
public final class IoUring implements AutoCloseable {
    public static final int SETUP_SUBMIT_ALL = 1 << 7;
    public static final int SETUP_COOP_TASKRUN = 1 << 8;
    public static final int SETUP_SQE128 = 1 << 10;
    public static final int SETUP_SINGLE_ISSUER = 1 << 12;
    public static final int SETUP_DEFER_TASKRUN = 1 << 13;

    public static final int ENTER_GETEVENTS = 1;

    public static final int SQE_FIXED_FILE = 1;
    public static final int REGISTER_FILES = 2;

    public static final int OP_NOP = 0;
    public static final int OP_URING_CMD = 46;

    /** Field offsets of struct io_uring_sqe. */
    public static final class Sqe {
        public static final int OPCODE = 0;
        public static final int FLAGS = 1;
        public static final int FD = 4;
        public static final int CMD_OP = 8;
        public static final int ADDR = 16;
        public static final int LEN = 24;
        public static final int OP_FLAGS = 28;
        public static final int USER_DATA = 32;
        /** Start of the command area of IORING_OP_URING_CMD (16 bytes, 80 with SQE128). */
        public static final int CMD = 48;

        private Sqe() {}
    }

    private static final int CQE_SIZE = 16;
    private static final long OFF_SQ_RING = 0;
    private static final long OFF_CQ_RING = 0x8000000L;
    private static final long OFF_SQES = 0x10000000L;
    private static final int PARAMS_SIZE = 120;

    private static final VarHandle INT = MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.nativeOrder());

    private final int fd;
    private final int setupFlags;
    private final int sqeSize;
    private final int sqEntries;
    private final long sqRingAddr, sqRingLen, cqRingAddr, cqRingLen, sqesAddr, sqesLen;
    private final ByteBuffer sqRing, cqRing, sqes;
    private final int sqHead, sqTail, sqMask, cqHead, cqTail, cqMask, cqes;
    private int sqTailLocal;
    private int pending;
    private int cqHeadLocal;
    private boolean closed;

    private IoUring(int fd, int setupFlags, ByteBuffer params) throws ErrnoException {
        this.fd = fd;
        this.setupFlags = setupFlags;
        this.sqeSize = (setupFlags & SETUP_SQE128) != 0 ? 128 : 64;
        this.sqEntries = params.getInt(0);
        int cqEntries = params.getInt(4);
        int sqOff = 40;
        int cqOff = 80;
        this.sqRingLen = params.getInt(sqOff + 24) + (long) sqEntries * 4;
        this.cqRingLen = params.getInt(cqOff + 20) + (long) cqEntries * CQE_SIZE;
        this.sqesLen = (long) sqEntries * sqeSize;
        long sq = -1, cq = -1, se = -1;
        try {
            sq = map(fd, sqRingLen, OFF_SQ_RING, "SQ ring");
            cq = map(fd, cqRingLen, OFF_CQ_RING, "CQ ring");
            se = map(fd, sqesLen, OFF_SQES, "SQEs");
        } catch (ErrnoException e) {
            unmap(sq, sqRingLen);
            unmap(cq, cqRingLen);
            unmap(se, sqesLen);
            throw e;
        }
        this.sqRingAddr = sq;
        this.cqRingAddr = cq;
        this.sqesAddr = se;
        this.sqRing = new Pointer(sq).getByteBuffer(0, sqRingLen).order(ByteOrder.nativeOrder());
        this.cqRing = new Pointer(cq).getByteBuffer(0, cqRingLen).order(ByteOrder.nativeOrder());
        this.sqes = new Pointer(se).getByteBuffer(0, sqesLen).order(ByteOrder.nativeOrder());
        this.sqHead = params.getInt(sqOff);
        this.sqTail = params.getInt(sqOff + 4);
        this.sqMask = sqRing.getInt(params.getInt(sqOff + 8));
        int array = params.getInt(sqOff + 24);
        this.cqHead = params.getInt(cqOff);
        this.cqTail = params.getInt(cqOff + 4);
        this.cqMask = cqRing.getInt(params.getInt(cqOff + 8));
        this.cqes = params.getInt(cqOff + 20);
        // SQEs are used in ring order, so the indirection array is the identity, written once.
        for (int i = 0; i < sqEntries; i++) {
            sqRing.putInt(array + i * 4, i);
        }
        this.sqTailLocal = (int) INT.getAcquire(sqRing, sqTail);
        this.cqHeadLocal = (int) INT.getAcquire(cqRing, cqHead);
    }

    /**
     * Creates a ring of at least {@code entries} SQEs. If the kernel refuses some optional flag
     * ({@code optionalFlags}, e.g. DEFER_TASKRUN on an older kernel) it retries with
     * {@code requiredFlags} alone.
     */
    public static IoUring setup(int entries, int requiredFlags, int optionalFlags) throws ErrnoException {
        ErrnoException first = null;
        for (int flags : new int[] {requiredFlags | optionalFlags, requiredFlags}) {
            ByteBuffer params = NativeMemory.allocate(PARAMS_SIZE);
            params.putInt(8, flags);
            long fd = LibC.syscall(SYS_IO_URING_SETUP, entries, NativeMemory.address(params), 0, 0, 0, 0);
            if (fd < 0) {
                int errno = LibC.errno();
                if (first == null) {
                    first = new ErrnoException("io_uring_setup", "flags 0x" + Integer.toHexString(flags), errno);
                }
                if (errno != Errno.EINVAL || optionalFlags == 0) {
                    break;
                }
                continue;
            }
            try {
                return new IoUring((int) fd, flags, params);
            } catch (ErrnoException e) {
                LibC.close((int) fd);
                throw e;
            }
        }
        throw first;
    }

    public int fd() { return fd; }
    public int setupFlags() { return setupFlags; }
    public int sqEntries() { return sqEntries; }

    /** The SQE array; {@link #nextSqe()} returns offsets into it. */
    public ByteBuffer sqes() { return sqes; }

    /**
     * Reserves the next SQE, zeroed, and returns its offset in {@link #sqes()}; -1 if the submission
     * queue is full (submit first). The SQE is handed to the kernel by the next {@link #enter}.
     */
    public int nextSqe() {
        int head = (int) INT.getAcquire(sqRing, sqHead);
        if (sqTailLocal - head >= sqEntries) {
            return -1;
        }
        int off = (sqTailLocal & sqMask) * sqeSize;
        for (int i = 0; i < sqeSize; i += 8) {
            sqes.putLong(off + i, 0);
        }
        sqTailLocal++;
        pending++;
        return off;
    }

    /** SQEs reserved but not yet consumed by the kernel. */
    public int pending() { return pending; }

    /**
     * Publishes the reserved SQEs and calls io_uring_enter, waiting for at least minComplete
     * completions. Returns the number of SQEs the kernel consumed, or a negative errno (EINTR: call again).
     */
    public int enter(int minComplete) {
        INT.setRelease(sqRing, sqTail, sqTailLocal);
        long r = LibC.syscall(SYS_IO_URING_ENTER, fd, pending, minComplete, minComplete > 0 ? ENTER_GETEVENTS : 0, 0, 0);
        if (r < 0) {
            return -LibC.errno();
        }
        pending -= (int) r;
        return (int) r;
    }

    /** True if a completion is waiting; read it with {@link #cqeUserData()}/{@link #cqeResult()}. */
    public boolean hasCompletion() {
        return cqHeadLocal != (int) INT.getAcquire(cqRing, cqTail);
    }

    public long cqeUserData() {
        return cqRing.getLong(cqes + (cqHeadLocal & cqMask) * CQE_SIZE);
    }

    public int cqeResult() {
        return cqRing.getInt(cqes + (cqHeadLocal & cqMask) * CQE_SIZE + 8);
    }

    /** Releases the current completion's slot to the kernel. */
    public void advanceCompletion() {
        cqHeadLocal++;
        INT.setRelease(cqRing, cqHead, cqHeadLocal);
    }

    /**
     * Registers fds as the ring's fixed files (index = position), so SQEs with {@link #SQE_FIXED_FILE}
     * name them by index and the kernel skips the per-SQE file lookup. Returns 0 or a negative errno.
     */
    public int registerFiles(int... fds) {
        java.nio.ByteBuffer arr = NativeMemory.allocate(4 * fds.length);
        for (int i = 0; i < fds.length; i++) {
            arr.putInt(4 * i, fds[i]);
        }
        return register(REGISTER_FILES, NativeMemory.address(arr), fds.length);
    }

    /** io_uring_register(2); returns its result or a negative errno. */
    public int register(int opcode, long arg, int nrArgs) {
        long r = LibC.syscall(SYS_IO_URING_REGISTER, fd, opcode, arg, nrArgs, 0, 0);
        return r < 0 ? -LibC.errno() : (int) r;
    }

    /**
     * Unmaps the rings and closes the ring. Commands still in flight are cancelled by the kernel;
     * their buffers must stay valid until then, which their owner guarantees by closing the ring first.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        unmap(sqesAddr, sqesLen);
        unmap(cqRingAddr, cqRingLen);
        unmap(sqRingAddr, sqRingLen);
        LibC.close(fd);
    }

    private static long map(int fd, long len, long offset, String what) throws ErrnoException {
        long a = LibC.mmap(0, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, offset);
        if (a == -1) {
            throw new ErrnoException("mmap io_uring " + what, "fd " + fd, LibC.errno());
        }
        return a;
    }

    private static void unmap(long addr, long len) {
        if (addr != -1 && addr != 0) {
            LibC.munmap(addr, len);
        }
    }
}
