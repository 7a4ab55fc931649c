package io.efuse.csi.volume;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;

/** A volume served at its staging path. Closing it unmounts and stops whatever serves it. */
public interface MountedVolume extends AutoCloseable {
    Path mountPoint();

    /** Whether the mount still answers (false once its FUSE connection died). */
    boolean alive();

    /** Whether the mount is read-only. */
    boolean readOnly();

    /** The I/O tier really in use. */
    String tier();

    /**
     * Applies new limits to a live mount (online expansion); {@link VolumeException.Reason#NOT_READY} when what
     * serves the mount cannot do it now.
     */
    void resize(Limits limits) throws IOException, VolumeException;

    /**
     * Holds back every change to the volume: the kernel's cached writes reach the daemon, the changes running
     * finish within {@code drain}, and no new one runs until the hold is closed or {@code hold} has passed.
     * {@link VolumeException.Reason#BUSY} if the changes running do not finish in time or another hold is on.
     */
    WriteHold holdWrites(Duration drain, Duration hold) throws IOException, VolumeException;

    /**
     * Applies new mutable parameters (tier auto, classic or passthrough; the kernel's writeback cache) to the live
     * session as far as it allows, without remounting, and says what waits for the next staging. What is applied
     * stays in effect if whatever serves the mount restarts.
     */
    ModifiedSettings modify(String tier, boolean writebackCache) throws IOException, VolumeException;

    @Override
    void close() throws IOException;

    /**
     * {@link #close()} within grace, for shutdown: what serves the mount is stopped (a FUSE connection aborted)
     * rather than waited for past it. Where closing waits on nothing of this process, it is close.
     */
    default void close(Duration grace) throws IOException {
        close();
    }
}
