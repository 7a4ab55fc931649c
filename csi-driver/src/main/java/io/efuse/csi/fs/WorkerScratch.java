package io.efuse.csi.fs;

import io.efuse.csi.sys.NativeMemory;
import io.efuse.csi.sys.ThreadCredentials;
import java.nio.ByteBuffer;

/**
 * Native scratch memory and credentials of one FUSE worker thread, kept with its request object so
 * that operations allocate nothing. Regions: statx result, a second statx, /proc/self/fd paths,
 * small structs, and a directory-entry buffer for getdents64.
 */
final class WorkerScratch {
    static final int STATX = 0;
    static final int STATX2 = 256;
    static final int PATH = 512;
    static final int PATH2 = 576;
    static final int SMALL = 640;
    static final int HANDLE = 768; // struct file_handle: 8 + MAX_HANDLE_SZ (128) bytes
    static final int MOUNT_ID = 904;
    static final int EMPTY = 1016; // a NUL byte: the "" path of AT_EMPTY_PATH calls
    static final int DIRENTS = 1024;
    static final int DIRENTS_SIZE = 64 * 1024;

    final ByteBuffer buf = NativeMemory.allocate(DIRENTS + DIRENTS_SIZE);
    final long address = NativeMemory.address(buf);
    final ThreadCredentials credentials = new ThreadCredentials();
    /** The thread that has its own umask through unshare(CLONE_FS), or null if none has (or it failed). */
    private Thread ownUmask;
    private boolean unshareFailed;
    // Descriptors opened from file handles for the current request, closed when it has been answered.
    private final int[] temporary = new int[8];
    private int temporaryCount;

    long handle() { return address + HANDLE; }
    long mountId() { return address + MOUNT_ID; }

    /** Remembers fd to be closed after the current request; returns it. */
    int closeAfterRequest(int fd) {
        if (temporaryCount == temporary.length) {
            io.efuse.csi.sys.LibC.close(fd);
            throw new IllegalStateException("more than " + temporary.length + " handle-opened nodes in one request");
        }
        temporary[temporaryCount++] = fd;
        return fd;
    }

    void closeTemporary() {
        for (int i = 0; i < temporaryCount; i++) {
            io.efuse.csi.sys.LibC.close(temporary[i]);
        }
        temporaryCount = 0;
    }

    /**
     * Makes umask this thread's umask for the creation that follows, so that the backing filesystem applies it
     * exactly as for a native caller: only where the parent has no default ACL. The daemon's other threads keep
     * the process's umask of 0. False if this thread cannot have a umask of its own: the caller then applies it.
     */
    boolean useUmask(int umask) {
        // A scratch lives on one worker thread; should another thread ever use it, that thread must not set the
        // umask the whole process shares.
        if (ownUmask != Thread.currentThread()) {
            if (unshareFailed) {
                return false;
            }
            // Only the calling thread's fs_struct is copied: its root and working directory stay the same.
            if (io.efuse.csi.sys.LibC.unshare(io.efuse.csi.sys.LinuxConstants.CLONE_FS) != 0) {
                unshareFailed = true;
                return false;
            }
            ownUmask = Thread.currentThread();
        }
        io.efuse.csi.sys.LibC.umask(umask & 0777);
        return true;
    }

    /** Back to no umask after a creation, for anything else this thread creates. */
    void clearUmask() {
        if (ownUmask == Thread.currentThread()) {
            io.efuse.csi.sys.LibC.umask(0);
        }
    }

    long statx() { return address + STATX; }
    long statx2() { return address + STATX2; }
    long small() { return address + SMALL; }
    long empty() { return address + EMPTY; }
    long dirents() { return address + DIRENTS; }

    /** "/proc/self/fd/N" for fd, in the first path region. */
    long procPath(int fd) {
        return NativeMemory.procFdPath(buf, address, PATH, fd);
    }

    long procPath2(int fd) {
        return NativeMemory.procFdPath(buf, address, PATH2, fd);
    }
}
