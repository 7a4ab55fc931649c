package io.efuse.csi.sys;

import com.sun.jna.LastErrorException;
import com.sun.jna.Library;
import com.sun.jna.Native;

/** mount(2) and umount2(2): bind mounts, read-only remounts and detaching unmounts for the CSI node service. */
public final class MountSyscalls {
    public static final long MS_RDONLY = 1;
    public static final long MS_NOSUID = 2;
    public static final long MS_NODEV = 4;
    public static final long MS_NOEXEC = 8;
    public static final long MS_SYNCHRONOUS = 16;
    public static final long MS_REMOUNT = 32;
    public static final long MS_DIRSYNC = 128;
    public static final long MS_NOATIME = 1024;
    public static final long MS_NODIRATIME = 2048;
    public static final long MS_BIND = 4096;
    public static final long MS_REC = 16384;
    public static final long MS_RELATIME = 1 << 21;
    public static final long MS_STRICTATIME = 1 << 24;

    public static final int MNT_FORCE = 1;
    public static final int MNT_DETACH = 2;
    public static final int UMOUNT_NOFOLLOW = 8;

    private interface LibC extends Library {
        int mount(String source, String target, String fstype, long flags, String data) throws LastErrorException;

        int umount2(String target, int flags) throws LastErrorException;
    }

    private final LibC libc = Native.load("c", LibC.class);

    public void mount(String source, String target, String fstype, long flags, String data) throws SyscallException {
        try {
            libc.mount(source, target, fstype, flags, data);
        } catch (LastErrorException e) {
            throw new SyscallException("mount " + source + " ->", target, e.getErrorCode(), strerror(e));
        }
    }

    public void umount2(String target, int flags) throws SyscallException {
        try {
            libc.umount2(target, flags);
        } catch (LastErrorException e) {
            throw new SyscallException("umount2", target, e.getErrorCode(), strerror(e));
        }
    }

    static String strerror(LastErrorException e) {
        String m = e.getMessage();
        // JNA formats the message as "[errno] text"
        int close = m == null ? -1 : m.indexOf(']');
        return close >= 0 ? m.substring(close + 1).trim() : String.valueOf(m);
    }
}
