package io.efuse.csi.bpf;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The eFuse cache program of one FUSE connection, loaded: efuse_cache.bpf.o with its struct_ops value set and
 * its maps. Attaching it to the connection is the FUSE session's ioctl ({@link #structOpsFd()} is what it takes);
 * each connection has its own program and maps. Closing it unloads everything once the connection has let go.
 */
public final class EfuseCacheProgram implements EfuseCacheMaps, AutoCloseable {

    static final String STRUCT_OPS = "efuse_cache_ops";
    private static final int ENTRY_KEY_SIZE = 8 + 256;
    private static final int ENTRY_SIZE = 40;
    private static final int ATTR_VALUE_SIZE = 24 + ATTR_SIZE;
    private static final int DATA_VALUE_SIZE = 16 + DATA_MAX;
    private static final int COUNTERS_SIZE = 32;

    private final BpfObject object;
    private final BpfLink structOps;
    private final int structOpsFd;
    private final BpfMap generations;
    private final BpfMap entries;
    private final BpfMap attrs;
    private final BpfMap data;
    private final BpfMap counters;

    private EfuseCacheProgram(BpfObject object, BpfLink structOps, int structOpsFd) {
        this.object = object;
        this.structOps = structOps;
        this.structOpsFd = structOpsFd;
        this.generations = checked(object, "efuse_gen", 8, 8);
        this.entries = checked(object, "efuse_entries", ENTRY_KEY_SIZE, ENTRY_SIZE);
        this.attrs = checked(object, "efuse_attrs", 8, ATTR_VALUE_SIZE);
        this.data = checked(object, "efuse_data", 8, DATA_VALUE_SIZE);
        this.counters = checked(object, "efuse_counters", 4, COUNTERS_SIZE);
    }

    /**
     * Loads the program from its ELF bytes and sets its struct_ops value.
     *
     * @throws BpfException when the kernel refuses it (no eFuse struct_ops type, verifier, no permission)
     */
    public static EfuseCacheProgram load(Libbpf libbpf, byte[] elf) {
        BpfObject object = BpfObject.open(libbpf, "efuse_cache", elf);
        BpfLink link = null;
        try {
            object.load();
            BpfObject.ObjectMap ops = object.map(STRUCT_OPS);
            link = ops.attachStructOps();
            return new EfuseCacheProgram(object, link, ops.view().fd());
        } catch (RuntimeException e) {
            if (link != null) {
                link.close();
            }
            object.close();
            throw e;
        }
    }

    /** The layouts are bpf/efuse_cache.h's; an object built from another version is refused here. */
    private static BpfMap checked(BpfObject object, String name, int keySize, int valueSize) {
        BpfMap m = object.map(name).view();
        if (m.keySize() != keySize || m.valueSize() != valueSize) {
            throw new IllegalArgumentException("map " + name + " of efuse_cache.bpf.o has " + m.keySize()
                    + "-byte keys and " + m.valueSize() + "-byte values; this daemon writes " + keySize + " and "
                    + valueSize + ": the object and the daemon come from different versions");
        }
        return m;
    }

    /** The struct_ops map to attach to a FUSE connection (FUSE_DEV_IOC_EFUSE_ATTACH). */
    public int structOpsFd() {
        return structOpsFd;
    }

    private static ByteBuffer buffer(int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.nativeOrder());
    }

    private static byte[] u64(long v) {
        return buffer(8).putLong(0, v).array();
    }

    static byte[] entryKey(long parent, byte[] name) {
        if (name.length > NAME_MAX) {
            throw new IllegalArgumentException("names longer than " + NAME_MAX + " bytes are never cached");
        }
        ByteBuffer k = buffer(ENTRY_KEY_SIZE).putLong(0, parent);
        k.put(8, name, 0, name.length);
        return k.array();
    }

    @Override
    public void putGeneration(long node, long generation) {
        generations.update(u64(node), u64(generation), BpfMap.BPF_ANY);
    }

    @Override
    public void putEntry(long parent, byte[] name, long parentGeneration, long nodeId, long fuseGeneration,
            long entryValidSeconds, int entryValidNanos) {
        ByteBuffer v = buffer(ENTRY_SIZE).putLong(0, parentGeneration).putLong(8, nodeId).putLong(16, fuseGeneration)
                .putLong(24, entryValidSeconds).putInt(32, entryValidNanos);
        entries.update(entryKey(parent, name), v.array(), BpfMap.BPF_ANY);
    }

    @Override
    public void removeEntry(long parent, byte[] name) {
        entries.delete(entryKey(parent, name));
    }

    @Override
    public void putAttr(long node, long generation, long attrValidSeconds, int attrValidNanos, byte[] fuseAttr) {
        ByteBuffer v = buffer(ATTR_VALUE_SIZE).putLong(0, generation).putLong(8, attrValidSeconds)
                .putInt(16, attrValidNanos);
        v.put(24, fuseAttr, 0, ATTR_SIZE);
        attrs.update(u64(node), v.array(), BpfMap.BPF_ANY);
    }

    @Override
    public void removeAttr(long node) {
        attrs.delete(u64(node));
    }

    @Override
    public void putData(long node, long generation, byte[] content, int length) {
        if (length > DATA_MAX) {
            throw new IllegalArgumentException("files over " + DATA_MAX + " bytes are never cached");
        }
        ByteBuffer v = buffer(DATA_VALUE_SIZE).putLong(0, generation).putLong(8, length);
        v.put(16, content, 0, length);
        data.update(u64(node), v.array(), BpfMap.BPF_ANY);
    }

    @Override
    public void removeData(long node) {
        data.delete(u64(node));
    }

    @Override
    public EfuseCacheCounters counters() {
        return new EfuseCacheCounters(outcomes(0), outcomes(1), outcomes(2));
    }

    private EfuseCacheCounters.Outcomes outcomes(int op) {
        byte[] raw = counters.lookup(buffer(4).putInt(0, op).array()).orElse(null);
        if (raw == null) {
            return EfuseCacheCounters.Outcomes.NONE;
        }
        ByteBuffer b = ByteBuffer.wrap(raw).order(ByteOrder.nativeOrder());
        EfuseCacheCounters.Outcomes sum = EfuseCacheCounters.Outcomes.NONE;
        for (int cpu = 0; cpu < counters.cpus(); cpu++) {
            int at = cpu * counters.valueSlotSize();
            sum = sum.plus(new EfuseCacheCounters.Outcomes(b.getLong(at), b.getLong(at + 8), b.getLong(at + 16),
                    b.getLong(at + 24)));
        }
        return sum;
    }

    @Override
    public void close() {
        structOps.close();
        object.close();
    }
}
