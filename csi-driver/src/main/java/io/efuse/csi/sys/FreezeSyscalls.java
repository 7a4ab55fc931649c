package io.efuse.csi.sys;

import java.nio.file.Path;

/**
 * FIFREEZE and FITHAW: a frozen filesystem has written everything out (a clean journal or log) and blocks every
 * new write until thawed, so the image beneath it can be copied as one consistent state. The freeze outlives the
 * process that asked for it: a caller that dies before thawing leaves writers blocked until someone thaws.
 */
public final class FreezeSyscalls {
    private static final long FIFREEZE = 0xC0045877L; // _IOWR('X', 119, int)
    private static final long FITHAW = 0xC0045878L; // _IOWR('X', 120, int)

    /** Freezes the filesystem mounted at {@code mountPoint}; EBUSY when it is frozen already. */
    public void freeze(Path mountPoint) throws ErrnoException {
        call(mountPoint, FIFREEZE, "FIFREEZE");
    }

    /** Thaws it; EINVAL when it was not frozen. */
    public void thaw(Path mountPoint) throws ErrnoException {
        call(mountPoint, FITHAW, "FITHAW");
    }

    /**
     * Writes out what the filesystem mounted at {@code mountPoint} holds dirty in the page cache; on a FUSE mount,
     * that sends the kernel's cached writes to the daemon.
     */
    public void syncfs(Path mountPoint) throws ErrnoException {
        int fd = Syscalls.open(mountPoint, LinuxConstants.O_RDONLY | LinuxConstants.O_DIRECTORY, 0);
        try {
            if (LibC.syncfs(fd) < 0) {
                throw new ErrnoException("syncfs", mountPoint.toString(), LibC.errno());
            }
        } finally {
            Syscalls.close(fd);
        }
    }

    private static void call(Path mountPoint, long request, String name) throws ErrnoException {
        int fd = Syscalls.open(mountPoint, LinuxConstants.O_RDONLY | LinuxConstants.O_DIRECTORY, 0);
        try {
            if (LibC.ioctl(fd, request, 0) < 0) {
                throw new ErrnoException("ioctl " + name, mountPoint.toString(), LibC.errno());
            }
        } finally {
            Syscalls.close(fd);
        }
    }
}
