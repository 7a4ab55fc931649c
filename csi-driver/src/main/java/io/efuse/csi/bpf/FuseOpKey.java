package io.efuse.csi.bpf;

import java.nio.ByteBuffer;

/** Key of the monitor's request_stats map: a FUSE connection (kernel dev_t of the mount) and an opcode. */
public record FuseOpKey(int connection, int opcode) {

    public static final MapCodec<FuseOpKey> CODEC = new MapCodec<>() {
        @Override public int size() { return 8; }
        @Override public void write(FuseOpKey k, ByteBuffer to) { to.putInt(k.connection).putInt(k.opcode); }
        @Override public FuseOpKey read(ByteBuffer from) { return new FuseOpKey(from.getInt(), from.getInt()); }
    };
}
