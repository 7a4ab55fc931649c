package io.efuse.csi.bpf;

import java.nio.ByteBuffer;

/**
 * How a Java value is laid out in a map key or value (native byte order; the buffer is positioned at the value
 * and has at least {@link #size()} bytes).
 */
public interface MapCodec<T> {

    int size();

    void write(T value, ByteBuffer to);

    T read(ByteBuffer from);

    MapCodec<Integer> U32 = new MapCodec<>() {
        @Override public int size() { return 4; }
        @Override public void write(Integer v, ByteBuffer to) { to.putInt(v); }
        @Override public Integer read(ByteBuffer from) { return from.getInt(); }
    };

    MapCodec<Long> U64 = new MapCodec<>() {
        @Override public int size() { return 8; }
        @Override public void write(Long v, ByteBuffer to) { to.putLong(v); }
        @Override public Long read(ByteBuffer from) { return from.getLong(); }
    };
}
