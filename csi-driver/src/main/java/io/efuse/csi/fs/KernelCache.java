package io.efuse.csi.fs;

import io.efuse.csi.bpf.EfuseCacheCounters;

/**
 * What the daemon tells the in-kernel cache of its volume (the efuse tier: an eBPF program answering LOOKUP,
 * GETATTR and READ from maps). {@link #NONE} is the cache of every kernel without the eFuse hook, or with it
 * turned off: it keeps nothing and answers nothing.
 *
 * <p>The contract that keeps answers from ever being older than what a caller could have seen:
 * <ul>
 *   <li>an operation that may fill takes a {@link #ticket()} before it reads the backing state it answers
 *       from, and passes it to the fill calls; a fill made stale by a change that ran meanwhile is dropped;
 *   <li>an operation that changes the tree calls {@link #changed} after the change and before its reply; it gets
 *       back the ticket to fill its own reply with, or {@link #NO_FILL} if another change ran meanwhile;
 *   <li>{@link #forgotten} runs before the daemon can reuse the node id.
 * </ul>
 */
public interface KernelCache extends AutoCloseable {

    /** A ticket with which nothing is filled. */
    long NO_FILL = -1;

    KernelCache NONE = new KernelCache() {};

    /** Whether a program is attached and the daemon fills its maps. */
    default boolean active() {
        return false;
    }

    default long ticket() {
        return NO_FILL;
    }

    /** Nodes whose served state a change altered stop being served; see the interface's contract. */
    default long changed(long ticket, long... nodes) {
        return NO_FILL;
    }

    /** LOOKUP(parent, name) answers node with these attributes (a struct fuse_attr) and timeouts. */
    default void entry(long ticket, long parent, byte[] name, long node, long fuseGeneration, long entryValidSec,
            int entryValidNsec, long attrValidSec, int attrValidNsec, byte[] attr) {}

    /** LOOKUP(parent, name) answers that the name does not exist. */
    default void negativeEntry(long ticket, long parent, byte[] name, long entryValidSec, int entryValidNsec) {}

    /** GETATTR(node) answers these attributes. */
    default void attr(long ticket, long node, long attrValidSec, int attrValidNsec, byte[] attr) {}

    /** READ of node answers from this, the whole file. */
    default void data(long ticket, long node, byte[] content, int length) {}

    /**
     * The node is open for writing with FUSE passthrough: writes no longer reach the daemon, so nothing of it
     * is served until {@link #bypassingWriterClosed} (size and times change behind the daemon's back).
     */
    default void bypassingWriterOpened(long node) {}

    default void bypassingWriterClosed(long node) {}

    /** The kernel forgot the node: nothing may lead to its id any more, since the id will be reused. */
    default void forgotten(long node) {}

    default EfuseCacheCounters counters() {
        return EfuseCacheCounters.NONE;
    }

    /** Detaches the program and drops the maps. */
    @Override
    default void close() {}
}
