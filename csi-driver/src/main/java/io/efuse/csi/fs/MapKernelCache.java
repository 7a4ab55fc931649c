package io.efuse.csi.fs;

import io.efuse.csi.bpf.EfuseCacheCounters;
import io.efuse.csi.bpf.EfuseCacheMaps;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The in-kernel cache kept in the cache program's maps, with the generation rules of kernel/README.md.
 *
 * <p>Generations live here (the maps mirror them); each node's is only ever raised, and written to the map under
 * the node's lock so the map never goes back. Every change first raises one counter for the whole volume: a fill
 * reads the generations it tags its values with, then writes only if that counter still equals its ticket. So a
 * value is either tagged with a generation older than every change it missed (never served again once that
 * change raised it) or no change ran while it was read.
 *
 * <p>If the map of generations cannot be written, the generations the program sees are no longer the daemon's:
 * the fail-safe (detaching the program) runs and nothing more is filled, so every request reaches the daemon.
 */
public final class MapKernelCache implements KernelCache {
    private static final Logger LOG = LoggerFactory.getLogger(MapKernelCache.class);
    private static final int STRIPES = 64;

    private final EfuseCacheMaps maps;
    private final Runnable failSafe;
    private final AutoCloseable owner;
    private final AtomicLong changes = new AtomicLong();
    private final ConcurrentHashMap<Long, AtomicLong> generations = new ConcurrentHashMap<>();
    /** The names under which each node was filled: removed when the kernel forgets it. */
    private final ConcurrentHashMap<Long, Set<Name>> namesOf = new ConcurrentHashMap<>();
    /** Passthrough opens for writing per node. */
    private final ConcurrentHashMap<Long, AtomicLong> bypassingWriters = new ConcurrentHashMap<>();
    private final Object[] locks = new Object[STRIPES];
    private final AtomicLong fillFailures = new AtomicLong();
    private volatile boolean active = true;

    private record Name(long parent, String name) {
        byte[] bytes() {
            return name.getBytes(StandardCharsets.ISO_8859_1);
        }
    }

    /**
     * @param maps the program's maps
     * @param failSafe detaches the program from the connection
     * @param owner closed by {@link #close()} (detach and unload), after failSafe's work is no longer needed
     */
    public MapKernelCache(EfuseCacheMaps maps, Runnable failSafe, AutoCloseable owner) {
        this.maps = maps;
        this.failSafe = failSafe;
        this.owner = owner;
        for (int i = 0; i < STRIPES; i++) {
            locks[i] = new Object();
        }
    }

    private Object lock(long node) {
        return locks[(int) (node ^ (node >>> 32)) & (STRIPES - 1)];
    }

    @Override
    public boolean active() {
        return active;
    }

    /** Fills dropped because a map was full or refused the value. */
    public long fillFailures() {
        return fillFailures.get();
    }

    @Override
    public long ticket() {
        return active ? changes.get() : NO_FILL;
    }

    @Override
    public long changed(long ticket, long... nodes) {
        long now = changes.incrementAndGet();
        for (long node : nodes) {
            if (node != 0) {
                raise(node);
            }
        }
        return active && ticket != NO_FILL && now == ticket + 1 ? now : NO_FILL;
    }

    /** Raises the node's generation, in memory and in the map; only nodes that were ever filled have one. */
    private void raise(long node) {
        AtomicLong gen = generations.get(node);
        if (gen == null) {
            return;
        }
        synchronized (lock(node)) {
            writeGeneration(node, gen.incrementAndGet());
        }
    }

    private void writeGeneration(long node, long gen) {
        if (!active) {
            return;
        }
        try {
            maps.putGeneration(node, gen);
        } catch (RuntimeException e) {
            disable("the generation of node " + node + " cannot be written", e);
        }
    }

    private void disable(String why, RuntimeException e) {
        synchronized (this) {
            if (!active) {
                return;
            }
            active = false;
        }
        LOG.error("in-kernel cache turned off: " + why + "; every request goes to the daemon", e);
        failSafe.run();
    }

    /** The node's current generation, made known to the program at 1 the first time. Call under lock(node). */
    private long generation(long node) {
        AtomicLong gen = generations.get(node);
        if (gen == null) {
            gen = new AtomicLong(1);
            writeGeneration(node, 1);
            generations.put(node, gen);
        }
        return gen.get();
    }

    private boolean servable(long node) {
        AtomicLong w = bypassingWriters.get(node);
        return w == null || w.get() == 0;
    }

    private static boolean cacheableName(byte[] name) {
        return name.length > 0 && name.length <= EfuseCacheMaps.NAME_MAX
                && !(name[0] == '.' && (name.length == 1 || (name.length == 2 && name[1] == '.')));
    }

    @Override
    public void entry(long ticket, long parent, byte[] name, long node, long fuseGeneration, long entryValidSec,
            int entryValidNsec, long attrValidSec, int attrValidNsec, byte[] attr) {
        if (ticket == NO_FILL || !active || !cacheableName(name) || node == 0) {
            return;
        }
        Name key = new Name(parent, new String(name, StandardCharsets.ISO_8859_1));
        long parentGen;
        synchronized (lock(parent)) {
            parentGen = generation(parent);
        }
        // Under the node's lock: forgotten() removes the node's names under it, so no entry leading to a
        // node id the kernel forgot is written after that.
        synchronized (lock(node)) {
            long nodeGen = generation(node);
            if (changes.get() != ticket || !active) {
                return;
            }
            namesOf.computeIfAbsent(node, n -> ConcurrentHashMap.newKeySet()).add(key);
            try {
                if (servable(node)) {
                    maps.putAttr(node, nodeGen, attrValidSec, attrValidNsec, attr);
                }
                maps.putEntry(parent, name, parentGen, node, fuseGeneration, entryValidSec, entryValidNsec);
            } catch (RuntimeException e) {
                fillFailures.incrementAndGet();
            }
        }
    }

    @Override
    public void negativeEntry(long ticket, long parent, byte[] name, long entryValidSec, int entryValidNsec) {
        if (ticket == NO_FILL || !active || !cacheableName(name)) {
            return;
        }
        synchronized (lock(parent)) {
            long parentGen = generation(parent);
            if (changes.get() != ticket || !active) {
                return;
            }
            try {
                maps.putEntry(parent, name, parentGen, 0, 0, entryValidSec, entryValidNsec);
            } catch (RuntimeException e) {
                fillFailures.incrementAndGet();
            }
        }
    }

    @Override
    public void attr(long ticket, long node, long attrValidSec, int attrValidNsec, byte[] attr) {
        if (ticket == NO_FILL || !active) {
            return;
        }
        synchronized (lock(node)) {
            long gen = generation(node);
            if (changes.get() != ticket || !active || !servable(node)) {
                return;
            }
            try {
                maps.putAttr(node, gen, attrValidSec, attrValidNsec, attr);
            } catch (RuntimeException e) {
                fillFailures.incrementAndGet();
            }
        }
    }

    @Override
    public void data(long ticket, long node, byte[] content, int length) {
        if (ticket == NO_FILL || !active || length > EfuseCacheMaps.DATA_MAX) {
            return;
        }
        synchronized (lock(node)) {
            long gen = generation(node);
            if (changes.get() != ticket || !active || !servable(node)) {
                return;
            }
            try {
                maps.putData(node, gen, content, length);
            } catch (RuntimeException e) {
                fillFailures.incrementAndGet();
            }
        }
    }

    @Override
    public void bypassingWriterOpened(long node) {
        // Counted before the change is announced: a fill that passes its ticket check later sees the writer.
        bypassingWriters.computeIfAbsent(node, n -> new AtomicLong()).incrementAndGet();
        changed(NO_FILL, node);
    }

    @Override
    public void bypassingWriterClosed(long node) {
        AtomicLong w = bypassingWriters.get(node);
        if (w != null && w.decrementAndGet() <= 0) {
            bypassingWriters.remove(node, w);
        }
        changed(NO_FILL, node);
    }

    @Override
    public void forgotten(long node) {
        changes.incrementAndGet();
        synchronized (lock(node)) {
            AtomicLong gen = generations.get(node);
            if (gen != null) {
                writeGeneration(node, gen.incrementAndGet());
            }
            Set<Name> names = namesOf.remove(node);
            if (!active) {
                return;
            }
            try {
                if (names != null) {
                    for (Name n : names) {
                        maps.removeEntry(n.parent(), n.bytes());
                    }
                }
                maps.removeAttr(node);
                maps.removeData(node);
            } catch (RuntimeException e) {
                // An entry left behind could lead to the id once it is reused: no program may stay attached.
                disable("the entries of forgotten node " + node + " cannot be removed", e);
            }
        }
    }

    @Override
    public EfuseCacheCounters counters() {
        try {
            return maps.counters();
        } catch (RuntimeException e) {
            return EfuseCacheCounters.NONE;
        }
    }

    @Override
    public void close() {
        active = false;
        try {
            owner.close();
        } catch (Exception e) {
            LOG.warn("closing the in-kernel cache: " + e);
        }
    }
}
