package io.efuse.csi.fs;

import io.efuse.csi.sys.Syscalls;
import java.util.Arrays;
import java.util.function.IntConsumer;

/**
 * Node ids handed to the kernel, mapped to {@link Inode}s. A node id is a slot index, so resolving
 * one is an array read; a (dev, ino) index finds the inode a new lookup refers to, so that one backing
 * file has one node id. Slots are reused with a new generation once the kernel forgets a node.
 * Lookup counts change under one lock: a lookup and a forget of the same node must not interleave.
 */
final class InodeTable {
    private volatile Inode[] slots = new Inode[1024];
    private int[] generations = new int[1024];
    private int[] free = new int[256];
    private int freeCount;
    private int nextSlot = 2; // 0 is invalid, 1 is the root
    private int size;
    private int descriptors;
    // Open addressing over (dev, ino); values are slot indexes, 0 = empty, -1 = deleted.
    private int[] index = new int[2048];
    private int used;
    private final IntConsumer closer;
    private volatile Listener listener = Listener.NONE;

    /**
     * Told, under the table's lock, of nodes the kernel learns and forgets, so that a journal records
     * them before the reply that names them reaches the kernel; and asked to open restored nodes.
     */
    interface Listener {
        Listener NONE = new Listener() {};

        default void created(Inode inode) {}

        default void dropped(Inode inode) {}

        /** Opens a restored node's O_PATH descriptor again; -1 if the file is gone. */
        default int reopen(Inode inode) { return -1; }

        /** A restored node got its descriptor: carries over state kept for it (passthrough sharing). */
        default void reopened(Inode placeholder, Inode inode) {}
    }

    InodeTable(IntConsumer closer) {
        this.closer = closer;
    }

    void listener(Listener l) {
        this.listener = l;
    }

    /**
     * Puts back a node the kernel still knows from before a daemon restart. Its lookup count is unknown,
     * so it is never dropped by FORGET (one slot kept until unmount, which is safe: an id is never reused
     * while the kernel may still use it).
     */
    synchronized void restore(long nodeId, int generation, long dev, long ino, int mode) {
        int s = (int) nodeId;
        while (s >= slots.length) {
            slots = Arrays.copyOf(slots, slots.length * 2);
            generations = Arrays.copyOf(generations, generations.length * 2);
        }
        Inode inode = Inode.restored(nodeId, generation, dev, ino, mode);
        inode.nlookup = Long.MAX_VALUE / 2;
        slots[s] = inode;
        generations[s] = generation;
        insertIndex(s, dev, ino);
        size++;
        nextSlot = Math.max(nextSlot, s + 1);
    }

    /**
     * After {@link #restore}: slots below the highest restored one that are empty become free, each
     * with a generation above any it had before (firstGeneration gives the lowest allowed per slot).
     */
    synchronized void finishRestore(java.util.function.LongToIntFunction firstGeneration) {
        for (int s = 2; s < nextSlot; s++) {
            if (slots[s] == null) {
                generations[s] = Math.max(generations[s], firstGeneration.applyAsInt(s));
                if (freeCount == free.length) {
                    free = Arrays.copyOf(free, free.length * 2);
                }
                free[freeCount++] = s;
            }
        }
    }

    private synchronized Inode open(Inode placeholder) {
        Inode now = slots[(int) placeholder.nodeId];
        if (now != placeholder) {
            return now;
        }
        int fd = listener.reopen(placeholder);
        if (fd < 0) {
            return null;
        }
        Inode real = new Inode(placeholder.nodeId, placeholder.generation, fd, placeholder.dev, placeholder.ino,
                placeholder.mode);
        real.nlookup = placeholder.nlookup;
        listener.reopened(placeholder, real);
        slots[(int) placeholder.nodeId] = real;
        descriptors++;
        NodeDescriptors.held(1);
        return real;
    }

    static InodeTable withSyscallClose() {
        return new InodeTable(Syscalls::close);
    }

    synchronized Inode installRoot(int fd, long dev, long ino, int mode) {
        Inode root = new Inode(1, 0, fd, dev, ino, mode);
        root.nlookup = Long.MAX_VALUE / 2; // the kernel never forgets the root
        slots[1] = root;
        insertIndex(1, dev, ino);
        size++;
        descriptors++;
        NodeDescriptors.held(1);
        return root;
    }

    /** The inode for a node id the kernel sent, or null if there is none (a stale id). */
    Inode get(long nodeId) {
        Inode[] s = slots;
        if (nodeId <= 0 || nodeId >= s.length) {
            return null;
        }
        Inode n = s[(int) nodeId];
        return n == null || !n.pending() ? n : open(n);
    }

    /**
     * Returns the inode for (dev, ino) with its lookup count raised by one. If it is new, fd becomes
     * its descriptor; otherwise fd is closed (the existing descriptor already names the same file).
     */
    synchronized Inode lookupOrInsert(int fd, long dev, long ino, int mode) {
        return lookupOrInsert(fd, dev, ino, mode, null);
    }

    /**
     * As above; if handle is not null and the inode is new, it is kept by that file handle instead of
     * a descriptor, and fd is closed.
     */
    synchronized Inode lookupOrInsert(int fd, long dev, long ino, int mode, byte[] handle) {
        int slot = findIndex(dev, ino);
        if (slot > 0) {
            Inode existing = slots[slot];
            if (existing.pending()) {
                // A restored node found again by name: the new descriptor is as good as a reopened one.
                Inode real = new Inode(existing.nodeId, existing.generation, fd, dev, ino, mode);
                real.nlookup = existing.nlookup;
                listener.reopened(existing, real);
                slots[slot] = real;
                descriptors++;
                NodeDescriptors.held(1);
                return real;
            }
            existing.nlookup++;
            existing.mode = mode;
            closer.accept(fd);
            return existing;
        }
        int s = allocateSlot();
        Inode inode;
        if (handle != null) {
            closer.accept(fd);
            inode = new Inode(s, generations[s], -1, dev, ino, mode, handle);
        } else {
            inode = new Inode(s, generations[s], fd, dev, ino, mode);
            descriptors++;
            NodeDescriptors.held(1);
        }
        inode.nlookup = 1;
        slots[s] = inode;
        insertIndex(s, dev, ino);
        size++;
        listener.created(inode);
        return inode;
    }

    /** Drops n lookups; the node goes away (and its descriptor is closed) when none are left. */
    synchronized void forget(long nodeId, long n) {
        Inode inode = get(nodeId);
        if (inode == null || nodeId == 1) {
            return;
        }
        inode.nlookup -= n;
        if (inode.nlookup <= 0) {
            listener.dropped(inode);
            int s = (int) nodeId;
            removeIndex(s, inode.dev, inode.ino);
            slots[s] = null;
            generations[s]++;
            if (freeCount == free.length) {
                free = Arrays.copyOf(free, free.length * 2);
            }
            free[freeCount++] = s;
            size--;
            if (inode.fd >= 0) {
                descriptors--;
                NodeDescriptors.held(-1);
                closer.accept(inode.fd);
            }
        }
    }

    /** The inode the kernel knows for (dev, ino), or null. */
    synchronized Inode find(long dev, long ino) {
        int slot = findIndex(dev, ino);
        return slot > 0 ? slots[slot] : null;
    }

    /** Nodes held by an open descriptor (the rest are kept by file handle). */
    synchronized int descriptors() {
        return descriptors;
    }

    synchronized int size() {
        return size;
    }

    /** Closes every descriptor (unmount). */
    synchronized void clear() {
        Inode[] s = slots;
        for (int i = 1; i < s.length; i++) {
            if (s[i] != null && s[i].fd >= 0) {
                closer.accept(s[i].fd);
                s[i] = null;
            }
        }
        Arrays.fill(index, 0);
        used = 0;
        size = 0;
        NodeDescriptors.held(-descriptors);
        descriptors = 0;
    }

    private int allocateSlot() {
        if (freeCount > 0) {
            return free[--freeCount];
        }
        if (nextSlot == slots.length) {
            slots = Arrays.copyOf(slots, slots.length * 2);
            generations = Arrays.copyOf(generations, generations.length * 2);
        }
        return nextSlot++;
    }

    private static int hash(long dev, long ino) {
        long h = ino * 0x9E3779B97F4A7C15L ^ dev * 0xC2B2AE3D27D4EB4FL;
        return (int) (h ^ (h >>> 29));
    }

    private int findIndex(long dev, long ino) {
        int mask = index.length - 1;
        for (int i = hash(dev, ino) & mask; ; i = (i + 1) & mask) {
            int v = index[i];
            if (v == 0) {
                return 0;
            }
            if (v > 0) {
                Inode n = slots[v];
                if (n.ino == ino && n.dev == dev) {
                    return v;
                }
            }
        }
    }

    private void insertIndex(int slot, long dev, long ino) {
        if ((used + 1) * 2 > index.length) {
            // Sized from live entries so that churn (create/unlink) clears tombstones instead of growing.
            int capacity = 2048;
            while (capacity < (size + 1) * 4) {
                capacity <<= 1;
            }
            rehash(capacity);
        }
        int mask = index.length - 1;
        int i = hash(dev, ino) & mask;
        while (index[i] > 0) {
            i = (i + 1) & mask;
        }
        if (index[i] == 0) {
            used++;
        }
        index[i] = slot;
    }

    private void removeIndex(int slot, long dev, long ino) {
        int mask = index.length - 1;
        for (int i = hash(dev, ino) & mask; ; i = (i + 1) & mask) {
            int v = index[i];
            if (v == 0) {
                return;
            }
            if (v == slot) {
                index[i] = -1;
                return;
            }
        }
    }

    private void rehash(int capacity) {
        int[] old = index;
        index = new int[capacity];
        used = 0;
        for (int v : old) {
            if (v > 0) {
                Inode n = slots[v];
                insertIndex(v, n.dev, n.ino);
            }
        }
    }
}
