package io.efuse.csi.bpf;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;

/** The few libc calls the BPF layer needs on its own: formatting libbpf's messages, closing fds, bpffs. */
interface BpfLibc extends Library {

    BpfLibc INSTANCE = Native.load("c", BpfLibc.class);

    int vsnprintf(byte[] buf, long size, Pointer format, Pointer args);

    int close(int fd);

    int mount(String source, String target, String fsType, long flags, String data);

    int flock(int fd, int operation);

    int open(String path, int flags);

    int O_RDONLY = 0;
    int O_DIRECTORY = 0x10000;
    int O_CLOEXEC = 0x80000;
    int LOCK_EX = 2;
}
