package io.efuse.csi.sys;

import java.io.IOException;

/**
 * A failed system call: carries the operation, the path (if any) and the errno. Subclasses single out failures a
 * caller is expected to handle on their own (see {@link BtrfsSyscalls}).
 */
public class ErrnoException extends IOException {
    private final int errno;
    private final String operation;
    private final String path;

    public ErrnoException(String operation, String path, int errno) {
        super(operation + (path == null ? "" : " " + path) + ": " + Errno.name(errno)
                + " (" + LibC.describe(errno) + ")");
        this.errno = errno;
        this.operation = operation;
        this.path = path;
    }

    public int errno() {
        return errno;
    }

    public String operation() {
        return operation;
    }

    public String path() {
        return path;
    }
}
