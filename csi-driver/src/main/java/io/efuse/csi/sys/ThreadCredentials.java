package io.efuse.csi.sys;

import java.nio.ByteBuffer;

/**
 * Lets one thread act as a FUSE caller while it creates a file, so that the backing file is owned by
 * the caller's uid and gid (and inherits setgid directories correctly) without a racy chown afterwards.
 * Linux credentials are per thread, and setfsuid/setfsgid touch only the calling thread. Changing fsuid
 * away from 0 drops the filesystem capabilities; DAC_OVERRIDE and DAC_READ_SEARCH are raised again
 * because the kernel already checked the caller's permissions (default_permissions) with all of the
 * caller's groups, which this thread does not carry. Returning fsuid to 0 restores every capability.
 * One instance per thread: it owns the scratch memory of capget/capset.
 */
public final class ThreadCredentials {
    private static final int CAP_VERSION_3 = 0x20080522;
    private static final int CAP_DAC_OVERRIDE = 1;
    private static final int CAP_DAC_READ_SEARCH = 2;

    private final ByteBuffer header = NativeMemory.allocate(8);
    private final ByteBuffer data = NativeMemory.allocate(24);
    private final long headerAddress = NativeMemory.address(header);
    private final long dataAddress = NativeMemory.address(data);
    private final int ownUid = LibC.geteuid();
    private boolean switched;

    /** Switches this thread's filesystem identity to uid/gid; returns false if nothing had to change. */
    public boolean become(int uid, int gid) {
        if (uid == ownUid && gid == 0) {
            return false;
        }
        LibC.setfsgid(gid);
        LibC.setfsuid(uid);
        switched = true;
        if (uid != 0) {
            header.putInt(0, CAP_VERSION_3).putInt(4, 0);
            if (LibC.syscall(LinuxConstants.SYS_CAPGET, headerAddress, dataAddress, 0, 0, 0, 0) == 0) {
                int effective = data.getInt(0) | (1 << CAP_DAC_OVERRIDE) | (1 << CAP_DAC_READ_SEARCH);
                data.putInt(0, effective & data.getInt(4));
                header.putInt(0, CAP_VERSION_3).putInt(4, 0);
                LibC.syscall(LinuxConstants.SYS_CAPSET, headerAddress, dataAddress, 0, 0, 0, 0);
            }
        }
        return true;
    }

    /** Returns this thread to the daemon's own identity. */
    public void restore() {
        if (switched) {
            LibC.setfsuid(ownUid);
            LibC.setfsgid(0);
            switched = false;
        }
    }
}
