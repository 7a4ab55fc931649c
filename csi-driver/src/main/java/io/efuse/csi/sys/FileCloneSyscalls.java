package io.efuse.csi.sys;

import java.nio.file.Path;

/** FICLONE: makes a file share the extents of another (reflink) on filesystems that can (XFS, btrfs, bcachefs). */
public final class FileCloneSyscalls {
    private static final long FICLONE = 0x40049409L; // _IOW(0x94, 9, int)

    /**
     * Clones {@code source} into the existing, empty file {@code target}. Fails with EOPNOTSUPP, EXDEV or EINVAL
     * when the filesystem cannot share extents; callers then copy instead.
     */
    public void cloneFile(Path source, Path target) throws ErrnoException {
        int src = Syscalls.open(source, LinuxConstants.O_RDONLY | LinuxConstants.O_NOFOLLOW, 0);
        try {
            int dst = Syscalls.open(target, LinuxConstants.O_WRONLY | LinuxConstants.O_NOFOLLOW, 0);
            try {
                if (LibC.ioctl(dst, FICLONE, src) < 0) {
                    throw new ErrnoException("ioctl FICLONE from " + source, target.toString(), LibC.errno());
                }
            } finally {
                Syscalls.close(dst);
            }
        } finally {
            Syscalls.close(src);
        }
    }
}
