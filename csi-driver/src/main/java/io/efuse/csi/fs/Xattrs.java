package io.efuse.csi.fs;

import static io.efuse.csi.sys.LinuxConstants.*;

import io.efuse.csi.fuse.FuseAbi;
import io.efuse.csi.fuse.FuseConnection;
import io.efuse.csi.fuse.FuseReply;
import io.efuse.csi.fuse.FuseRequest;
import io.efuse.csi.fuse.FuseStructs.GetxattrIn;
import io.efuse.csi.fuse.FuseStructs.GetxattrOut;
import io.efuse.csi.fuse.FuseStructs.SetxattrIn;
import io.efuse.csi.sys.Errno;
import io.efuse.csi.sys.LibC;
import java.nio.charset.StandardCharsets;

/**
 * Extended attributes of the nodes of an {@link EfuseFilesystem}, POSIX ACLs among them. Reached through
 * /proc/self/fd/N of the node's O_PATH descriptor: the magic link resolves to the node itself and is not followed
 * further, so symlinks' own attributes are read and written too.
 */
final class Xattrs {
    private static final int ENOTSUP = Errno.EOPNOTSUPP;
    private static final byte[] ACL_ACCESS = "system.posix_acl_access".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] ACL_DEFAULT = "system.posix_acl_default".getBytes(StandardCharsets.US_ASCII);

    private final EfuseFilesystem fs;
    private volatile boolean setxattrExt;
    /** The kernel checks POSIX ACLs (FUSE_POSIX_ACL): it asks for them with GETXATTR and must never get EOPNOTSUPP. */
    private volatile boolean posixAcl;

    Xattrs(EfuseFilesystem fs) {
        this.fs = fs;
    }

    void init(FuseConnection c) {
        this.setxattrExt = (c.flags() & FuseAbi.SETXATTR_EXT) != 0;
        this.posixAcl = (c.flags() & FuseAbi.POSIX_ACL) != 0;
    }


    int setxattr(FuseRequest rq, FuseReply rp, Inode inode) {
        WorkerScratch s = EfuseFilesystem.scratch(rq);
        int ifd = fs.fdOf(s, inode);
        if (ifd < 0) {
            return -ifd;
        }
        int base = setxattrExt ? SetxattrIn.SIZE : SetxattrIn.COMPAT_SIZE;
        int size = rq.u32(SetxattrIn.SIZE_);
        int nameLen = rq.stringLength(base);
        if (base + nameLen + 1 + (long) size > rq.argLength()) {
            return Errno.EINVAL;
        }
        int r = LibC.setxattr(s.procPath(ifd), rq.argAddress(base), rq.argAddress(base + nameLen + 1), size,
                rq.u32(SetxattrIn.FLAGS));
        if (r < 0) {
            return LibC.errno();
        }
        if (rq.stringEquals(base, ACL_ACCESS)) {
            // The backing filesystem has set the mode from the ACL, as the daemon, which may keep set-group-ID;
            // the kernel says when the caller may not (not in the group, no CAP_FSETID).
            boolean killSgid = setxattrExt && (rq.u32(SetxattrIn.SETXATTR_FLAGS) & FuseAbi.SETXATTR_ACL_KILL_SGID) != 0;
            return aclChangedMode(s, inode, ifd, killSgid);
        }
        return 0;
    }

    /** After a new access ACL: the node's mode as the backing file now has it, set-group-ID dropped if asked. */
    private int aclChangedMode(WorkerScratch s, Inode inode, int ifd, boolean killSgid) {
        int err = EfuseFilesystem.stat(s, ifd);
        if (err != 0) {
            return err;
        }
        int mode = s.buf.getShort(WorkerScratch.STATX + 28) & 0xffff;
        if (killSgid && (mode & S_ISGID) != 0) {
            mode &= ~S_ISGID;
            if (LibC.fchmodat(AT_FDCWD, s.procPath(ifd), mode & 07777, 0) < 0) {
                return LibC.errno();
            }
        }
        inode.mode = mode;
        return 0;
    }

    int getxattr(FuseRequest rq, FuseReply rp, Inode inode) {
        WorkerScratch s = EfuseFilesystem.scratch(rq);
        int ifd = fs.fdOf(s, inode);
        if (ifd < 0) {
            return -ifd;
        }
        int size = rq.u32(GetxattrIn.SIZE_);
        long path = s.procPath(ifd);
        long name = rq.argAddress(GetxattrIn.SIZE);
        if (size == 0) {
            long n = LibC.getxattr(path, name, 0, 0);
            if (n < 0) {
                return getxattrError(rq, LibC.errno());
            }
            rp.putU32(GetxattrOut.SIZE_, (int) n);
            rp.putU32(GetxattrOut.PADDING, 0);
            rp.payloadLength(GetxattrOut.SIZE);
            return 0;
        }
        long n = LibC.getxattr(path, name, rp.payloadAddress(), Math.min(size, rp.capacity()));
        if (n < 0) {
            return getxattrError(rq, LibC.errno());
        }
        rp.payloadLength((int) n);
        return 0;
    }

    /**
     * The kernel fetches ACLs to check permissions and fails the check with any error but ENODATA: a file on a
     * backing filesystem without ACLs (one mounted inside the backing tree) has none rather than failing.
     */
    private int getxattrError(FuseRequest rq, int err) {
        if (err == ENOTSUP && posixAcl
                && (rq.stringEquals(GetxattrIn.SIZE, ACL_ACCESS) || rq.stringEquals(GetxattrIn.SIZE, ACL_DEFAULT))) {
            return Errno.ENODATA;
        }
        return err;
    }

    int listxattr(FuseRequest rq, FuseReply rp, Inode inode) {
        WorkerScratch s = EfuseFilesystem.scratch(rq);
        int ifd = fs.fdOf(s, inode);
        if (ifd < 0) {
            return -ifd;
        }
        int size = rq.u32(GetxattrIn.SIZE_);
        long path = s.procPath(ifd);
        if (size == 0) {
            long n = LibC.listxattr(path, 0, 0);
            if (n < 0) {
                return LibC.errno();
            }
            rp.putU32(GetxattrOut.SIZE_, (int) n);
            rp.putU32(GetxattrOut.PADDING, 0);
            rp.payloadLength(GetxattrOut.SIZE);
            return 0;
        }
        long n = LibC.listxattr(path, rp.payloadAddress(), Math.min(size, rp.capacity()));
        if (n < 0) {
            return LibC.errno();
        }
        rp.payloadLength((int) n);
        return 0;
    }

    int removexattr(FuseRequest rq, FuseReply rp, Inode inode) {
        WorkerScratch s = EfuseFilesystem.scratch(rq);
        int ifd = fs.fdOf(s, inode);
        if (ifd < 0) {
            return -ifd;
        }
        return LibC.removexattr(s.procPath(ifd), rq.argAddress(0)) < 0 ? LibC.errno() : 0;
    }
}
