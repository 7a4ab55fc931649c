package io.efuse.csi.fuse;

/** Layouts of the FUSE-over-io_uring ABI (linux/fuse.h 7.42+). */
final class FuseUringStructs {
    private FuseUringStructs() {}

    /** struct fuse_uring_req_header: the header buffer of one ring entry (iovec 0). */
    static final class ReqHeader {
        static final int SIZE = 288;
        /** fuse_in_header from the kernel, fuse_out_header back (128 bytes reserved). */
        static final int IN_OUT = 0;
        /** The request's first in-arg, the per-opcode struct (128 bytes reserved). */
        static final int OP_IN = 128;
        static final int OP_IN_SIZE = 128;
        /** struct fuse_uring_ent_in_out. */
        static final int ENT_FLAGS = 256;
        static final int ENT_COMMIT_ID = 264;
        static final int ENT_PAYLOAD_SZ = 272;
    }

    /** struct fuse_uring_cmd_req, in the command area of a 128-byte SQE. */
    static final class CmdReq {
        static final int FLAGS = 0;
        static final int COMMIT_ID = 8;
        static final int QID = 16;
    }

    /** enum fuse_uring_cmd: the cmd_op of IORING_OP_URING_CMD on a /dev/fuse fd. */
    static final int CMD_REGISTER = 1;
    static final int CMD_COMMIT_AND_FETCH = 2;
}
