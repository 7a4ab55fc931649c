package io.efuse.csi.bpf;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.BinaryOperator;

/**
 * Typed view over a {@link BpfMap}. For per-CPU maps, {@link #perCpu} returns every CPU's value and
 * {@link #get} is unavailable; {@link #sum} folds the CPUs with a given operator.
 */
public final class MapView<K, V> {

    private final BpfMap map;
    private final MapCodec<K> keys;
    private final MapCodec<V> values;

    public MapView(BpfMap map, MapCodec<K> keys, MapCodec<V> values) {
        if (keys.size() != map.keySize() || values.size() != map.valueSize()) {
            throw new IllegalArgumentException("map " + map.name() + " has " + map.keySize() + "-byte keys and "
                    + map.valueSize() + "-byte values; the view expects " + keys.size() + " and " + values.size());
        }
        this.map = map;
        this.keys = keys;
        this.values = values;
    }

    public BpfMap map() {
        return map;
    }

    public Optional<V> get(K key) {
        requireShared();
        return map.lookup(encodeKey(key)).map(b -> values.read(order(ByteBuffer.wrap(b))));
    }

    public void put(K key, V value) {
        requireShared();
        ByteBuffer b = order(ByteBuffer.allocate(map.valueBufferSize()));
        values.write(value, b);
        map.update(encodeKey(key), b.array(), BpfMap.BPF_ANY);
    }

    /** Sets every CPU's value of a per-CPU map (e.g. to reset a counter). */
    public void putAllCpus(K key, V value) {
        ByteBuffer b = order(ByteBuffer.allocate(map.valueBufferSize()));
        for (int cpu = 0; cpu < map.cpus(); cpu++) {
            b.position(cpu * map.valueSlotSize());
            values.write(value, b);
        }
        map.update(encodeKey(key), b.array(), BpfMap.BPF_ANY);
    }

    public boolean remove(K key) {
        return map.delete(encodeKey(key));
    }

    /** Every CPU's value, index = CPU (a one-element list for shared maps). */
    public Optional<List<V>> perCpu(K key) {
        return map.lookup(encodeKey(key)).map(this::decodeCpus);
    }

    public Optional<V> sum(K key, BinaryOperator<V> plus) {
        return perCpu(key).map(vs -> vs.stream().reduce(plus).orElseThrow());
    }

    /** A snapshot of all entries (per-CPU maps: summed with plus; shared maps: plus unused). */
    public Map<K, V> entries(BinaryOperator<V> plus) {
        Map<K, V> out = new LinkedHashMap<>();
        for (byte[] k : map.keys()) {
            map.lookup(k).ifPresent(v -> out.put(keys.read(order(ByteBuffer.wrap(k))),
                    decodeCpus(v).stream().reduce(plus).orElseThrow()));
        }
        return out;
    }

    /** A snapshot of all entries with every CPU's value. */
    public Map<K, List<V>> entriesPerCpu() {
        Map<K, List<V>> out = new LinkedHashMap<>();
        for (byte[] k : map.keys()) {
            map.lookup(k).ifPresent(v -> out.put(keys.read(order(ByteBuffer.wrap(k))), decodeCpus(v)));
        }
        return out;
    }

    private List<V> decodeCpus(byte[] raw) {
        ByteBuffer b = order(ByteBuffer.wrap(raw));
        V[] out = newArray(map.cpus());
        for (int cpu = 0; cpu < map.cpus(); cpu++) {
            b.position(cpu * map.valueSlotSize());
            out[cpu] = values.read(b);
        }
        return List.of(out);
    }

    @SuppressWarnings("unchecked")
    private V[] newArray(int n) {
        return (V[]) new Object[n];
    }

    private byte[] encodeKey(K key) {
        ByteBuffer b = order(ByteBuffer.allocate(map.keySize()));
        keys.write(key, b);
        return b.array();
    }

    private void requireShared() {
        if (map.type().perCpu()) {
            throw new IllegalStateException("map " + map.name() + " is per-CPU: use perCpu/sum/putAllCpus");
        }
    }

    private static ByteBuffer order(ByteBuffer b) {
        return b.order(ByteOrder.nativeOrder());
    }
}
