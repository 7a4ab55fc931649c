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
    void impossibleSizeFailsWithErrno() {
        ErrnoException e = assertThrows(ErrnoException.class, () -> IoUring.setup(0, 0, 0));
        assertEquals(Errno.EINVAL, e.errno());
        assertTrue(e.getMessage().contains("io_uring_setup"));
    }
}
