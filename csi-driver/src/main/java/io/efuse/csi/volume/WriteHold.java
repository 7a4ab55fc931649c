package io.efuse.csi.volume;

import java.io.IOException;

/**
 * The changes to a served volume held back (a group snapshot), from {@link MountedVolume#holdWrites}: what its
 * daemon serves is written out and nothing that changes the volume runs until the hold is closed or runs out.
 */
public interface WriteHold extends AutoCloseable {
    /** Files that write to the backing filesystem through passthrough, past the daemon and so past this hold. */
    int passthroughWriters();

    /** Whether the kernel caches writes of this mount (write-back cache): those complete without the daemon. */
    boolean writebackCache();

    /**
     * Ends the hold; throws {@link VolumeException.Reason#BUSY} if it had run out before, so that changes may
     * have passed while the caller counted on none.
     */
    @Override
    void close() throws IOException, VolumeException;
}
