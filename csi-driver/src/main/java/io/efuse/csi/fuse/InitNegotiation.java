package io.efuse.csi.fuse;

/**
 * Decides the INIT reply from what the kernel offers and what the daemon wants. Pure: the session
 * feeds it the kernel's fuse_init_in and writes the result into fuse_init_out.
 *
 * @param wantPassthrough ask for FUSE_PASSTHROUGH (file data bypasses the daemon)
 * @param wantWritebackCache ask for the kernel's writeback cache (ignored with passthrough: the kernel
 *     does not combine them)
 */
public record InitNegotiation(boolean wantPassthrough, boolean wantWritebackCache) {

    /** What the daemon always asks for when the kernel offers it. */
    static final long BASE_FLAGS = FuseAbi.ASYNC_READ | FuseAbi.ATOMIC_O_TRUNC | FuseAbi.BIG_WRITES
            | FuseAbi.DO_READDIRPLUS | FuseAbi.READDIRPLUS_AUTO | FuseAbi.ASYNC_DIO | FuseAbi.PARALLEL_DIROPS
            | FuseAbi.MAX_PAGES | FuseAbi.CACHE_SYMLINKS | FuseAbi.HANDLE_KILLPRIV_V2 | FuseAbi.SETXATTR_EXT
            | FuseAbi.INIT_EXT | FuseAbi.AUTO_INVAL_DATA;

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
        long flags = want & kernelFlags;
        // INIT_EXT (flags2) only exists from 7.36; without it the upper flags are unreadable.
        if ((flags & FuseAbi.INIT_EXT) == 0) {
            flags &= 0xffffffffL;
        }
        boolean passthrough = (flags & FuseAbi.PASSTHROUGH) != 0;
        if (wantWritebackCache && !passthrough && (kernelFlags & FuseAbi.WRITEBACK_CACHE) != 0) {
            flags |= FuseAbi.WRITEBACK_CACHE;
            // With the writeback cache the kernel owns size and mtime; data invalidation on attribute
            // changes would throw away its own dirty pages' view.
            flags &= ~FuseAbi.AUTO_INVAL_DATA;
        }
        int maxPages = (flags & FuseAbi.MAX_PAGES) != 0 ? FuseAbi.MAX_PAGES_PER_REQUEST : 32;
        int maxWrite = maxPages * 4096;
        return new Result(FuseAbi.KERNEL_VERSION, minor, flags, maxWrite, maxPages, kernelMaxReadahead,
                64, 48, 1, passthrough ? 1 : 0);
    }
}
