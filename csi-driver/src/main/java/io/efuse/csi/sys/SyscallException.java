package io.efuse.csi.sys;

import java.io.IOException;

/** A failed system call: names the operation, the path it was applied to and the errno the kernel returned. */
public final class SyscallException extends IOException {
    private final int errno;

    public SyscallException(String operation, String path, int errno, String reason) {
        super(operation + "(" + path + "): errno " + errno + " (" + reason + ")");
        this.errno = errno;
    }

    public int errno() {
        return errno;
    }

    /** The errno values this project reacts to; the numbers are the same on every Linux architecture. */
    public static final int EPERM = 1;
    public static final int ENOENT = 2;
    public static final int EINTR = 4;
    public static final int EINVAL = 22;
    public static final int ENOTTY = 25;
    public static final int ENOSPC = 28;
    public static final int ESRCH = 3;
    public static final int EBUSY = 16;
    public static final int EXDEV = 18;
    public static final int ENOSYS = 38;
    public static final int EOPNOTSUPP = 95;
    public static final int ENOTCONN = 107;
    public static final int EDQUOT = 122;
}
