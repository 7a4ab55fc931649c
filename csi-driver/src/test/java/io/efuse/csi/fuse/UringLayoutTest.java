package io.efuse.csi.fuse;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.efuse.csi.fuse.FuseUringStructs.CmdReq;
import io.efuse.csi.fuse.FuseUringStructs.ReqHeader;
import io.efuse.csi.sys.IoUring;
import io.efuse.csi.testing.CProgram;
import io.efuse.csi.testing.ProcessRunner;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** The FUSE-over-io_uring and io_uring layouts the queues use equal what the kernel headers say. */
class UringLayoutTest {
    @Test
    void uringStructsAndSqeFieldsMatchTheHeaders() throws Exception {
        Path fuseH = FuseHeaderLayoutTest.newestHeader();
        Path uringH = fuseH.resolveSibling("io_uring.h");
        Assumptions.assumeTrue(Files.readString(fuseH).contains("fuse_uring_req_header"),
                "skipped: " + fuseH + " predates FUSE-over-io_uring; run .ci/fetch-kernel-headers");
        Map<String, Long> expected = new LinkedHashMap<>();
        expected.put("sizeof(struct fuse_uring_req_header)", (long) ReqHeader.SIZE);
        expected.put("offsetof(struct fuse_uring_req_header, in_out)", (long) ReqHeader.IN_OUT);
        expected.put("offsetof(struct fuse_uring_req_header, op_in)", (long) ReqHeader.OP_IN);
        expected.put("FUSE_URING_OP_IN_OUT_SZ", (long) ReqHeader.OP_IN_SIZE);
        expected.put("offsetof(struct fuse_uring_req_header, ring_ent_in_out.flags)", (long) ReqHeader.ENT_FLAGS);
        expected.put("offsetof(struct fuse_uring_req_header, ring_ent_in_out.commit_id)", (long) ReqHeader.ENT_COMMIT_ID);
        expected.put("offsetof(struct fuse_uring_req_header, ring_ent_in_out.payload_sz)", (long) ReqHeader.ENT_PAYLOAD_SZ);
        expected.put("offsetof(struct fuse_uring_cmd_req, flags)", (long) CmdReq.FLAGS);
        expected.put("offsetof(struct fuse_uring_cmd_req, commit_id)", (long) CmdReq.COMMIT_ID);
        expected.put("offsetof(struct fuse_uring_cmd_req, qid)", (long) CmdReq.QID);
        expected.put("FUSE_IO_URING_CMD_REGISTER", (long) FuseUringStructs.CMD_REGISTER);
        expected.put("FUSE_IO_URING_CMD_COMMIT_AND_FETCH", (long) FuseUringStructs.CMD_COMMIT_AND_FETCH);
        expected.put("offsetof(struct io_uring_sqe, opcode)", (long) IoUring.Sqe.OPCODE);
        expected.put("offsetof(struct io_uring_sqe, flags)", (long) IoUring.Sqe.FLAGS);
        expected.put("offsetof(struct io_uring_sqe, fd)", (long) IoUring.Sqe.FD);
        expected.put("offsetof(struct io_uring_sqe, cmd_op)", (long) IoUring.Sqe.CMD_OP);
        expected.put("offsetof(struct io_uring_sqe, addr)", (long) IoUring.Sqe.ADDR);
        expected.put("offsetof(struct io_uring_sqe, len)", (long) IoUring.Sqe.LEN);
        expected.put("offsetof(struct io_uring_sqe, uring_cmd_flags)", (long) IoUring.Sqe.OP_FLAGS);
        expected.put("offsetof(struct io_uring_sqe, user_data)", (long) IoUring.Sqe.USER_DATA);
        expected.put("offsetof(struct io_uring_sqe, cmd)", (long) IoUring.Sqe.CMD);
        expected.put("IORING_OP_URING_CMD", (long) IoUring.OP_URING_CMD);
        expected.put("IORING_OP_NOP", (long) IoUring.OP_NOP);
        expected.put("IORING_SETUP_SQE128", (long) IoUring.SETUP_SQE128);
        expected.put("IORING_SETUP_SINGLE_ISSUER", (long) IoUring.SETUP_SINGLE_ISSUER);
        expected.put("IORING_SETUP_DEFER_TASKRUN", (long) IoUring.SETUP_DEFER_TASKRUN);
        expected.put("IORING_ENTER_GETEVENTS", (long) IoUring.ENTER_GETEVENTS);
        expected.put("IOSQE_FIXED_FILE", (long) IoUring.SQE_FIXED_FILE);
        expected.put("IORING_REGISTER_FILES", (long) IoUring.REGISTER_FILES);
        expected.put("FUSE_OVER_IO_URING", FuseAbi.OVER_IO_URING);

        StringBuilder src = new StringBuilder("#include <stddef.h>\n#include <stdio.h>\n#include \"" + uringH
                + "\"\n#include \"" + fuseH + "\"\nint main(void) {\n");
        int i = 0;
        for (String expr : expected.keySet()) {
            src.append(" printf(\"%d %llu\\n\", ").append(i++).append(", (unsigned long long) (").append(expr)
                    .append("));\n");
        }
        src.append(" return 0;\n}\n");
        Path c = CProgram.moduleDir().resolve("target/test-c/uring_layout.c");
        Files.createDirectories(c.getParent());
        Files.writeString(c, src);
        Path exe = CProgram.compile("uring_layout", c, List.of("-I" + fuseH.getParent().getParent()));
        ProcessRunner.Result r = ProcessRunner.run(List.of(exe.toString()), Duration.ofSeconds(30));
        assertEquals(0, r.exit(), r.output());
        String[] lines = r.output().strip().split("\n");
        List<String> exprs = List.copyOf(expected.keySet());
        for (String line : lines) {
            String[] kv = line.split(" ");
            String expr = exprs.get(Integer.parseInt(kv[0]));
            assertEquals(expected.get(expr), Long.parseUnsignedLong(kv[1]), expr);
        }
        assertEquals(expected.size(), lines.length);
    }
}
