package io.efuse.csi.bpf;

/**
 * The maps of the eFuse cache program (bpf/efuse_cache.bpf.c, layouts in bpf/efuse_cache.h) as the daemon writes
 * them. The program serves a value only while the generation it carries is its node's current one in the
 * generation map; what the daemon must keep true for that is the business of its caller.
 *
 * <p>Every put replaces the whole value (the maps are hash maps without preallocation: the program never reads
 * a half-written value). Failures are {@link BpfException}s.
 */
public interface EfuseCacheMaps {

    /** Longest name a key can hold (the key keeps the name and its NUL in 256 bytes). */
    int NAME_MAX = 255;
    /** Largest file whose content the READ map can hold. */
    int DATA_MAX = 65536;
    /** sizeof(struct fuse_attr). */
    int ATTR_SIZE = 88;

    /** efuse_gen[node] = generation. */
    void putGeneration(long node, long generation);

    /**
     * efuse_entries[{parent, name}]: what LOOKUP(parent, name) answers while parent's generation is
     * parentGeneration; nodeId 0 is a negative entry.
     */
    void putEntry(long parent, byte[] name, long parentGeneration, long nodeId, long fuseGeneration,
            long entryValidSeconds, int entryValidNanos);

    void removeEntry(long parent, byte[] name);

    /** efuse_attrs[node]: what GETATTR (and a positive LOOKUP) answers; fuseAttr is a struct fuse_attr. */
    void putAttr(long node, long generation, long attrValidSeconds, int attrValidNanos, byte[] fuseAttr);

    void removeAttr(long node);

    /** efuse_data[node]: the whole content of a regular file of at most {@link #DATA_MAX} bytes. */
    void putData(long node, long generation, byte[] content, int length);

    void removeData(long node);

    /** What the program answered so far, summed over CPUs. */
    EfuseCacheCounters counters();
}
