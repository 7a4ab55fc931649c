package io.efuse.csi.volume;

import java.io.IOException;
import java.nio.file.Path;

/**
 * How one backing root keeps volumes' data and holds them to their size ({@link EngineKind}). The
 * {@link BackingStore} of the root picks the engine of a new volume, finds the engine that holds an existing one,
 * and keeps the layout that all engines share ({@link RootLayout}). Every call is idempotent: repeating a create
 * after success changes nothing, and a failed one leaves nothing in place.
 */
interface StorageEngine {
    EngineKind kind();

    /** Whether this engine holds the data of volume {@code id} on this root. */
    boolean holdsVolume(String id);

    /** Whether this engine holds snapshot {@code id} on this root. */
    boolean holdsSnapshot(String id);

    /**
     * Makes volume {@code id} held to {@code limits}, empty or filled from {@code source}: natively when this
     * engine holds the source too, else by copying the source's files.
     */
    void createVolume(String id, Limits limits, SourceData source) throws IOException, VolumeException;

    /** Applies new limits (online: the volume may be served). */
    void resizeVolume(String id, Limits limits) throws IOException, VolumeException;

    /** Removes the volume and everything it held on the node; a volume that is not there is already deleted. */
    void deleteVolume(String id) throws IOException, VolumeException;

    /** Takes snapshot {@code snapshotId} of volume {@code volumeId}; returns the bytes it holds. */
    long createSnapshot(String snapshotId, String volumeId) throws IOException, VolumeException;

    void deleteSnapshot(String id) throws IOException, VolumeException;

    /**
     * Blocks every write to volume {@code id} in the kernel until the result is closed, so that snapshots taken
     * meanwhile (which then freeze nothing themselves) hold one instant. Null when this engine's volumes share a
     * filesystem that cannot be frozen for one of them, or when nothing writes the volume now.
     */
    default AutoCloseable freeze(String id) throws IOException, VolumeException {
        return null;
    }

    Usage usage(String id, Limits limits) throws IOException, VolumeException;

    /**
     * The directory the FUSE daemon serves for volume {@code id}, made ready first where a restart undid that
     * (an image whose loop device and mount went with a reboot).
     */
    Path serve(String id) throws IOException, VolumeException;

    /** What the daemon serving volume {@code id} must enforce and show. */
    ServedLimits served(String id, Limits limits) throws IOException, VolumeException;

    /** Bytes still free for new volumes. */
    long availableBytes() throws IOException;

    /** Volume or snapshot {@code id}, which this engine holds, as the source of a new volume. */
    SourceData source(ContentSource.Kind kind, String id) throws IOException;

    /**
     * Removes {@code leftover}, something under the work directory that a crash left, if it is of this engine's
     * making (a subvolume, a mounted image); false if it is not, and a plain removal will do.
     */
    default boolean removeLeftover(Path leftover) throws IOException {
        return false;
    }

    /** Whether the node's own choice may give this engine a new volume of this size. */
    default boolean suits(Limits limits) {
        return true;
    }

    /** Whether this engine keeps volumes as plain directories, which any layout's volume also looks like. */
    default boolean plainDirectories() {
        return false;
    }
}
