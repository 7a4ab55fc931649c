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
    static final int EMPTY = 1016; // a NUL byte: the "" path of AT_EMPTY_PATH calls
    static final int DIRENTS = 1024;
    static final int DIRENTS_SIZE = 64 * 1024;

    final ByteBuffer buf = NativeMemory.allocate(DIRENTS + DIRENTS_SIZE);
    final long address = NativeMemory.address(buf);
    final ThreadCredentials credentials = new ThreadCredentials();

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
