package io.efuse.csi.sys;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;

class IoUringTest {
    @Test
    void nopsRoundTripWithTheirUserData() throws Exception {
        try (IoUring ring = IoUring.setup(4, IoUring.SETUP_SQE128,
                IoUring.SETUP_SINGLE_ISSUER | IoUring.SETUP_DEFER_TASKRUN)) {
            assertEquals(4, ring.sqEntries());
            for (int round = 0; round < 3; round++) { // wraps the rings' indexes past their size
                for (int i = 0; i < 4; i++) {
                    int sqe = ring.nextSqe();
                    assertTrue(sqe >= 0);
                    assertEquals(0, sqe % 128, "128-byte SQEs");
                    ring.sqes().put(sqe + IoUring.Sqe.OPCODE, (byte) IoUring.OP_NOP);
                    ring.sqes().putLong(sqe + IoUring.Sqe.USER_DATA, 100L * round + i);
                }
                assertEquals(-1, ring.nextSqe(), "a full submission queue gives no SQE");
                assertEquals(4, ring.enter(4));
                assertEquals(0, ring.pending());
                for (int i = 0; i < 4; i++) {
                    assertTrue(ring.hasCompletion());
                    assertEquals(100L * round + i, ring.cqeUserData());
                    assertEquals(0, ring.cqeResult());
                    ring.advanceCompletion();
                }
                assertFalse(ring.hasCompletion());
            }
        }
    }

    @Test
    void unknownOpcodeCompletesWithAnError() throws Exception {
        try (IoUring ring = IoUring.setup(2, 0, 0)) {
            int sqe = ring.nextSqe();
            ring.sqes().put(sqe + IoUring.Sqe.OPCODE, (byte) 250);
            ring.sqes().putLong(sqe + IoUring.Sqe.USER_DATA, 9);
            assertEquals(1, ring.enter(1));
            assertTrue(ring.hasCompletion());
            assertEquals(9, ring.cqeUserData());
            assertEquals(-Errno.EINVAL, ring.cqeResult());
        }
    }

    @Test
    void fixedFilesAreNamedByIndex() throws Exception {
        java.nio.file.Path f = java.nio.file.Files.createTempFile("ring", ".txt");
        java.nio.file.Files.writeString(f, "fixed file");
        int fd = Syscalls.open(f, LinuxConstants.O_RDONLY, 0);
        try (IoUring ring = IoUring.setup(2, 0, 0)) {
            assertEquals(0, ring.registerFiles(fd));
            java.nio.ByteBuffer buf = NativeMemory.allocate(64);
            int sqe = ring.nextSqe();
            ring.sqes().put(sqe + IoUring.Sqe.OPCODE, (byte) 22); // IORING_OP_READ
            ring.sqes().put(sqe + IoUring.Sqe.FLAGS, (byte) IoUring.SQE_FIXED_FILE);
            ring.sqes().putInt(sqe + IoUring.Sqe.FD, 0);
            ring.sqes().putLong(sqe + IoUring.Sqe.ADDR, NativeMemory.address(buf));
            ring.sqes().putInt(sqe + IoUring.Sqe.LEN, 64);
            assertEquals(1, ring.enter(1));
            assertEquals(10, ring.cqeResult());
            assertEquals("fixed file", NativeMemory.readCString(buf, 0, 10));
        } finally {
            Syscalls.close(fd);
            java.nio.file.Files.delete(f);
        }
    }

    @Test
    void impossibleSizeFailsWithErrno() {
        ErrnoException e = assertThrows(ErrnoException.class, () -> IoUring.setup(0, 0, 0));
        assertEquals(Errno.EINVAL, e.errno());
        assertTrue(e.getMessage().contains("io_uring_setup"));
    }
}
