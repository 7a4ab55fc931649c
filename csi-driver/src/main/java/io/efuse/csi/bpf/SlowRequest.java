package io.efuse.csi.bpf;

import java.nio.ByteBuffer;

/** A FUSE request whose latency reached the monitor's slow threshold (record of the slow_requests ring buffer). */
public record SlowRequest(long unique, long latencyNs, long endNs, int connection, int opcode, int error, int pid,
        int cpu, int replyLength) {

    static final int SIZE = 48;

    static SlowRequest read(ByteBuffer b) {
        return new SlowRequest(b.getLong(), b.getLong(), b.getLong(), b.getInt(), b.getInt(), b.getInt(), b.getInt(),
                b.getInt(), b.getInt());
    }

    public String opcodeName() {
        return FuseOpcodes.name(opcode);
    }
}
