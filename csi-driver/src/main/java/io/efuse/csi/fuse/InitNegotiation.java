package io.efuse.csi.fuse;

/**
 * Decides the INIT reply from what the kernel offers and what the daemon wants. Pure: the session
 * feeds it the kernel's fuse_init_in and writes the result into fuse_init_out.
 *
 * @param wantPassthrough ask for FUSE_PASSTHROUGH (file data bypasses the daemon)
 * @param wantWritebackCache ask for the kernel's writeback cache (ignored with passthrough: the kernel
 *     does not combine them)
 * @param wantUring ask for FUSE_OVER_IO_URING (requests then arrive on per-CPU io_uring queues)
 * @param wantPosixAcl ask for FUSE_POSIX_ACL (the kernel then checks ACLs, which it fetches with GETXATTR) and
 *     FUSE_DONT_MASK: the kernel no longer applies the umask to creation modes, since a parent's default ACL
 *     replaces it; the filesystem must apply the umask the request carries when there is none
 */
public record InitNegotiation(boolean wantPassthrough, boolean wantWritebackCache, boolean wantUring,
        boolean wantPosixAcl) {

    public InitNegotiation(boolean wantPassthrough, boolean wantWritebackCache) {
        this(wantPassthrough, wantWritebackCache, false, false);
    }

    public InitNegotiation(boolean wantPassthrough, boolean wantWritebackCache, boolean wantUring) {
        this(wantPassthrough, wantWritebackCache, wantUring, false);
    }

    /** The same wishes, with FUSE_OVER_IO_URING asked for or not. */
    public InitNegotiation withUring(boolean uring) {
        return new InitNegotiation(wantPassthrough, wantWritebackCache, uring, wantPosixAcl);
    }

    /** The same wishes, with FUSE_POSIX_ACL (and FUSE_DONT_MASK) asked for or not. */
    public InitNegotiation withPosixAcl(boolean posixAcl) {
        return new InitNegotiation(wantPassthrough, wantWritebackCache, wantUring, posixAcl);
    }

    /**
     * What the daemon always asks for when the kernel offers it. Not AUTO_INVAL_DATA: the daemon is the
     * only writer of the backing tree, and with it every read after a write refreshes attributes
     * (GETATTR), which also makes the next write ask for security.capability again (GETXATTR).
     */
    static final long BASE_FLAGS = FuseAbi.ASYNC_READ | FuseAbi.ATOMIC_O_TRUNC | FuseAbi.BIG_WRITES
            | FuseAbi.DO_READDIRPLUS | FuseAbi.READDIRPLUS_AUTO | FuseAbi.ASYNC_DIO | FuseAbi.PARALLEL_DIROPS
            | FuseAbi.MAX_PAGES | FuseAbi.CACHE_SYMLINKS | FuseAbi.HANDLE_KILLPRIV_V2 | FuseAbi.SETXATTR_EXT
            | FuseAbi.INIT_EXT;

    /** The reply's fields. minor < 0 means: answer with only our major so the kernel retries. */
    public record Result(int major, int minor, long flags, int maxWrite, int maxPages, int maxReadahead,
            int maxBackground, int congestionThreshold, int timeGran, int maxStackDepth) {}

    public Result negotiate(int kernelMajor, int kernelMinor, long kernelFlags, int kernelMaxReadahead) {
        if (kernelMajor > FuseAbi.KERNEL_VERSION) {
            return new Result(FuseAbi.KERNEL_VERSION, -1, 0, 0, 0, 0, 0, 0, 0, 0);
        }
        if (kernelMajor < FuseAbi.KERNEL_VERSION || kernelMinor < 31) {
            throw new IllegalStateException("FUSE protocol " + kernelMajor + "." + kernelMinor
                    + " is too old: 7.31 (Linux 5.4) or newer is needed");
        }
        int minor = Math.min(kernelMinor, FuseAbi.MAX_MINOR);
        long want = BASE_FLAGS;
        if (wantPassthrough) {
            want |= FuseAbi.PASSTHROUGH;
        }
        if (wantUring) {
            want |= FuseAbi.OVER_IO_URING;
        }
        if (wantPosixAcl) {
            want |= FuseAbi.POSIX_ACL | FuseAbi.DONT_MASK;
        }
        long flags = want & kernelFlags;
        // INIT_EXT (flags2) only exists from 7.36; without it the upper flags are unreadable.
        if ((flags & FuseAbi.INIT_EXT) == 0) {
            flags &= 0xffffffffL;
        }
        // The eFuse kernel's bit is only an announcement (attaching a program is the opt-in), echoed so that
        // the connection's flags say what the kernel can do.
        if ((flags & FuseAbi.INIT_EXT) != 0) {
            flags |= kernelFlags & EfuseKernelAbi.EFUSE;
        }
        boolean passthrough = (flags & FuseAbi.PASSTHROUGH) != 0;
        if (wantWritebackCache && !passthrough && (kernelFlags & FuseAbi.WRITEBACK_CACHE) != 0) {
            flags |= FuseAbi.WRITEBACK_CACHE;
        }
        int maxPages = (flags & FuseAbi.MAX_PAGES) != 0 ? FuseAbi.MAX_PAGES_PER_REQUEST : 32;
        int maxWrite = maxPages * 4096;
        return new Result(FuseAbi.KERNEL_VERSION, minor, flags, maxWrite, maxPages, kernelMaxReadahead,
                64, 48, 1, passthrough ? 1 : 0);
    }
}
