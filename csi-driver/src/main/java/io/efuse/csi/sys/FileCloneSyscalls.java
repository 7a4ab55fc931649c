package io.efuse.csi.sys;

import com.sun.jna.LastErrorException;
import com.sun.jna.Library;
import com.sun.jna.Native;

/** FICLONE: makes a file share the extents of another (reflink) on filesystems that can (XFS, btrfs, bcachefs). */
public final class FileCloneSyscalls {
    private static final int O_RDONLY = 0;
    private static final int O_WRONLY = 1;
    private static final int O_CLOEXEC = 02000000;
    private static final long FICLONE = 0x40049409L; // _IOW(0x94, 9, int)

    private interface LibC extends Library {
        int open(String path, int flags) throws LastErrorException;

        int close(int fd) throws LastErrorException;

        int ioctl(int fd, long request, int arg) throws LastErrorException;
    }

    private final LibC libc = Native.load("c", LibC.class);

    /**
     * Clones {@code source} into the existing, empty file {@code target}. Throws with EOPNOTSUPP, EXDEV or EINVAL
     * when the filesystem cannot share extents; callers fall back to copying.
     */
    public void cloneFile(String source, String target) throws SyscallException {
        int src = open(source, O_RDONLY);
        try {
            int dst = open(target, O_WRONLY);
            try {
                libc.ioctl(dst, FICLONE, src);
            } catch (LastErrorException e) {
                throw new SyscallException("ioctl FICLONE from " + source, target, e.getErrorCode(),
                        MountSyscalls.strerror(e));
            } finally {
                close(dst);
            }
        } finally {
            close(src);
        }
    }

    private int open(String path, int flags) throws SyscallException {
        try {
            return libc.open(path, flags | O_CLOEXEC);
        } catch (LastErrorException e) {
            throw new SyscallException("open", path, e.getErrorCode(), MountSyscalls.strerror(e));
        }
    }

    private void close(int fd) {
        try {
            libc.close(fd);
        } catch (LastErrorException ignored) {
            // nothing was written through this descriptor that close could still lose
        }
    }
}
