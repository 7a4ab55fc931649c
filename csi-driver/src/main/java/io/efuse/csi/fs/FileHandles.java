package io.efuse.csi.fs;

import io.efuse.csi.sys.LibC;

/**
 * The fh the daemon gives the kernel for an open file or directory, and the open files of earlier incarnations.
 * fh layout: bits 0-23 the backing file descriptor, 24-54 the passthrough backing id + 1 (0: none),
 * 55 {@link #DAEMON_PATH}, 56-63 the daemon incarnation that opened it (0 when the volume is not recoverable). A
 * handle from an earlier incarnation names a descriptor of a dead process: {@link VolumeState} opens the file again.
 */
final class FileHandles {
    private static final long FD_MASK = 0xffffff;

    /** Set in the fh of a regular file opened on the daemon's path (see Inode.daemonOpens). */
    static final long DAEMON_PATH = 1L << 55;

    /** Recoverable state (null: the volume does not survive a daemon restart) and this incarnation's number. */
    private volatile VolumeState state;
    private volatile int epoch;

    static int backingIdOf(long fh) {
        return (int) ((fh >>> 24) & 0x7fffffffL) - 1;
    }

    long fhOf(int fd, int backingId) {
        return ((long) epoch << 56) | ((long) (backingId + 1) << 24) | (fd & FD_MASK);
    }

    /** Makes the handles recorded in st, and those of earlier incarnations served through it. */
    void recoverable(VolumeState st) {
        this.epoch = st.epoch();
        this.state = st;
    }

    /** The descriptor of an open file: this incarnation's own, or the one st opened again for an earlier one's. */
    int fileFd(long nodeId, long fh, EfuseFilesystem fs) {
        VolumeState st = state;
        if (st == null || (int) (fh >>> 56) == epoch) {
            return (int) (fh & FD_MASK);
        }
        return st.fdOf(nodeId, fh, fs);
    }

    /** Records a handle given out, so that a later daemon can serve it. */
    void opened(long fh, long nodeId, int flags) {
        VolumeState st = state;
        if (st != null) {
            st.opened(fh, nodeId, flags);
        }
    }

    /** Releases an open file: its record goes before its descriptor, so a reused fd number is logged after. */
    void closeFile(long nodeId, long fh) {
        VolumeState st = state;
        if (st == null) {
            LibC.close((int) (fh & FD_MASK));
        } else if ((int) (fh >>> 56) == epoch) {
            st.closed(fh);
            LibC.close((int) (fh & FD_MASK));
        } else {
            st.closeEarlier(fh);
        }
    }

    /** Handles from before a takeover that were opened for writing with passthrough. */
    int earlierPassthroughWriters() {
        VolumeState st = state;
        return st == null ? 0 : st.earlierPassthroughWriters();
    }
}
