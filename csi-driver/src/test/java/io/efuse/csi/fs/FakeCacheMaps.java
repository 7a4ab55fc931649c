package io.efuse.csi.fs;

import io.efuse.csi.bpf.EfuseCacheCounters;
import io.efuse.csi.bpf.EfuseCacheMaps;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The cache program's maps in memory, answering as bpf/efuse_cache.bpf.c does: a value only while the generation it
 * carries is its node's current one, a positive entry only with current attributes of its node.
 */
final class FakeCacheMaps implements EfuseCacheMaps {
    record Entry(long parentGen, long nodeId, long fuseGeneration, long entryValid, int entryValidNsec) {}

    record Attr(long gen, long attrValid, int attrValidNsec, byte[] attr) {}

    record Data(long gen, byte[] content) {}

    private record Key(long parent, String name) {}

    final Map<Long, Long> generations = new ConcurrentHashMap<>();
    final Map<Key, Entry> entries = new ConcurrentHashMap<>();
    final Map<Long, Attr> attrs = new ConcurrentHashMap<>();
    final Map<Long, Data> data = new ConcurrentHashMap<>();
    /** Every generation written, per node, in order. */
    final Map<Long, List<Long>> generationWrites = new ConcurrentHashMap<>();
    volatile boolean refuseGenerations;
    volatile boolean refuseEntries;

    private static Key key(long parent, byte[] name) {
        return new Key(parent, new String(name, StandardCharsets.ISO_8859_1));
    }

    private boolean current(long node, long gen) {
        Long now = generations.get(node);
        return now != null && now == gen;
    }

    /** What LOOKUP(parent, name) gets in the kernel: a node id (0 = negative), or empty for an upcall. */
    Optional<Long> lookup(long parent, String name) {
        Entry e = entries.get(new Key(parent, name));
        if (e == null || !current(parent, e.parentGen())) {
            return Optional.empty();
        }
        if (e.nodeId() == 0) {
            return Optional.of(0L);
        }
        return getattr(e.nodeId()).map(a -> e.nodeId());
    }

    /** What GETATTR(node) gets in the kernel: the attributes, or empty for an upcall. */
    Optional<byte[]> getattr(long node) {
        Attr a = attrs.get(node);
        return a != null && current(node, a.gen()) ? Optional.of(a.attr()) : Optional.empty();
    }

    Optional<byte[]> read(long node) {
        Data d = data.get(node);
        return d != null && current(node, d.gen()) ? Optional.of(d.content()) : Optional.empty();
    }

    @Override
    public void putGeneration(long node, long generation) {
        if (refuseGenerations) {
            throw new IllegalStateException("map full");
        }
        synchronized (generationWrites) {
            generationWrites.computeIfAbsent(node, n -> new ArrayList<>()).add(generation);
        }
        generations.put(node, generation);
    }

    @Override
    public void putEntry(long parent, byte[] name, long parentGeneration, long nodeId, long fuseGeneration,
            long entryValidSeconds, int entryValidNanos) {
        if (refuseEntries) {
            throw new IllegalStateException("map full");
        }
        entries.put(key(parent, name), new Entry(parentGeneration, nodeId, fuseGeneration, entryValidSeconds,
                entryValidNanos));
    }

    @Override
    public void removeEntry(long parent, byte[] name) {
        entries.remove(key(parent, name));
    }

    @Override
    public void putAttr(long node, long generation, long attrValidSeconds, int attrValidNanos, byte[] fuseAttr) {
        attrs.put(node, new Attr(generation, attrValidSeconds, attrValidNanos, fuseAttr.clone()));
    }

    @Override
    public void removeAttr(long node) {
        attrs.remove(node);
    }

    @Override
    public void putData(long node, long generation, byte[] content, int length) {
        data.put(node, new Data(generation, java.util.Arrays.copyOf(content, length)));
    }

    @Override
    public void removeData(long node) {
        data.remove(node);
    }

    @Override
    public EfuseCacheCounters counters() {
        return EfuseCacheCounters.NONE;
    }
}
