package io.efuse.csi.fuse;

import static io.efuse.csi.sys.LinuxConstants.*;

import io.efuse.csi.sys.Errno;
import io.efuse.csi.sys.ErrnoException;
import io.efuse.csi.sys.LibC;
import io.efuse.csi.sys.MountTable;
import io.efuse.csi.sys.NativeMemory;
import io.efuse.csi.sys.Syscalls;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The kernel's side of a session: opening /dev/fuse, mount(2) with the session's options, cloning the device for
 * another worker, writing a reply, and ending the mount (unmount, abort).
 */
final class FuseDevice {
    /** Logs as the session: these lines are the session's, and operators and tests know them by that name. */
    private static final Logger LOG = LoggerFactory.getLogger(FuseSession.class);

    private FuseDevice() {
    }

    /** A new descriptor of /dev/fuse, with the reason FUSE is missing when it cannot be opened. */
    static int open() throws IOException {
        try {
            return Syscalls.open(Path.of("/dev/fuse"), O_RDWR, 0);
        } catch (ErrnoException e) {
            throw new IOException("cannot open /dev/fuse (" + Errno.name(e.errno()) + "): FUSE is not available"
                    + (e.errno() == Errno.ENOENT ? "; load the fuse module or give the container /dev/fuse" : ""), e);
        }
    }

    /** Mounts the connection of fd at mountPoint; closes fd if the mount fails. */
    static void mount(int fd, Path mountPoint, FuseSession.Options options) throws ErrnoException {
        try {
            String data = "fd=" + fd + ",rootmode=40000,user_id=0,group_id=0,default_permissions,allow_other";
            long flags = MS_NOSUID | MS_NODEV | options.extraMountFlags() | (options.readOnly() ? MS_RDONLY : 0);
            Syscalls.mount(options.fsName(), mountPoint, "fuse." + options.subtype(), flags, data);
        } catch (ErrnoException e) {
            Syscalls.close(fd);
            throw e;
        }
    }

    /** A new /dev/fuse fd attached to deviceFd's connection, with its own processing list. */
    static int clone(int deviceFd) throws IOException {
        int fd = Syscalls.open(Path.of("/dev/fuse"), O_RDWR, 0);
        ByteBuffer arg = NativeMemory.allocate(4);
        arg.putInt(0, deviceFd);
        if (LibC.ioctl(fd, FuseAbi.DEV_IOC_CLONE, NativeMemory.address(arg)) < 0) {
            int errno = LibC.errno();
            Syscalls.close(fd);
            throw new ErrnoException("ioctl FUSE_DEV_IOC_CLONE", "/dev/fuse", errno);
        }
        return fd;
    }

    /** Writes a sealed reply in one write(2); the bytes written, or -errno. */
    static int send(int fd, FuseReply rp) {
        int len = rp.seal();
        long w = LibC.write(fd, rp.address(), len);
        return w < 0 ? -LibC.errno() : (int) w;
    }

    /** Unmounts mountPoint, detaching it if it is busy (it then ends when its last user closes). */
    static void unmount(Path mountPoint) {
        try {
            Syscalls.umount(mountPoint, UMOUNT_NOFOLLOW);
        } catch (ErrnoException e) {
            if (e.errno() == Errno.EBUSY) {
                try {
                    Syscalls.umount(mountPoint, MNT_DETACH | UMOUNT_NOFOLLOW);
                } catch (ErrnoException ignored) {
                    // already gone
                }
            }
        }
    }

    /** Whether a mount of this connection is left in this namespace, which keeps the connection up. */
    static boolean stillMountedElsewhere(FuseConnection connection) {
        long id = connection == null ? -1 : connection.connectionId();
        if (id < 0) {
            return false;
        }
        try {
            return MountTable.anyMountOf(0, (int) id);
        } catch (IOException e) {
            return false;
        }
    }

    /** Ends the connection through its control file: every request waiting on it fails, the workers leave. */
    static void abortConnection(FuseConnection connection) {
        long id = connection == null ? -1 : connection.connectionId();
        if (id >= 0) {
            try {
                java.nio.file.Files.writeString(Path.of("/sys/fs/fuse/connections/" + id + "/abort"), "1");
            } catch (IOException e) {
                LOG.warn("cannot abort FUSE connection " + id + ": " + e.getMessage());
            }
        }
    }

    /** Undoes a mount whose INIT or workers failed: detaches it if it happened and closes its descriptor. */
    static void abortAfterFailedStart(Path mountPoint, int deviceFd) {
        try {
            Syscalls.umount(mountPoint, MNT_DETACH | UMOUNT_NOFOLLOW);
        } catch (ErrnoException ignored) {
            // the mount may not have happened
        }
        Syscalls.close(deviceFd);
    }
}
