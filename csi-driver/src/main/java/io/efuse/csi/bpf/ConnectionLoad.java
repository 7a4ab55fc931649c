package io.efuse.csi.bpf;

import java.nio.ByteBuffer;

/**
 * Live load of one FUSE connection as the monitor sees it: requests in flight (sent to the daemon's queue and not
 * yet answered), totals sent and ended, and the latency sum of ended requests. Two readings give rates and the mean
 * latency over the interval between them.
 */
public record ConnectionLoad(int connection, long inFlight, long sent, long ended, long latencyNsSum) {

    static final MapCodec<ConnectionLoad> VALUE = new MapCodec<>() {
        @Override public int size() { return 32; }
        @Override public void write(ConnectionLoad v, ByteBuffer to) {
            to.putLong(v.inFlight).putLong(v.sent).putLong(v.ended).putLong(v.latencyNsSum);
        }
        @Override public ConnectionLoad read(ByteBuffer from) {
            return new ConnectionLoad(0, from.getLong(), from.getLong(), from.getLong(), from.getLong());
        }
    };

    ConnectionLoad withConnection(int c) {
        return new ConnectionLoad(c, inFlight, sent, ended, latencyNsSum);
    }

    /** Mean latency in ns of the requests that ended since an earlier reading; 0 if none did. */
    public double meanLatencyNsSince(ConnectionLoad earlier) {
        long n = ended - earlier.ended;
        return n <= 0 ? 0 : (double) (latencyNsSum - earlier.latencyNsSum) / n;
    }
}
