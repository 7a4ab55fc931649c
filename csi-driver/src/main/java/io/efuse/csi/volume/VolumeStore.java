package io.efuse.csi.volume;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The state of every volume and snapshot, and the way to change it. {@code local} keeps it in a state directory on
 * one machine; {@code kube} keeps it in custom resources that each node reconciles. Every mutating call is
 * idempotent: repeating it after success returns the same result, and after a failure it leaves nothing half-made.
 */
public interface VolumeStore extends AutoCloseable {

    /** Creates the volume, or returns the existing one of the same name when it is compatible. */
    Volume create(VolumeSpec spec) throws VolumeException;

    Optional<Volume> volume(String id);

    /** All volumes, ordered by id (the order that list pagination relies on). */
    List<Volume> volumes();

    /** Deletes a volume and its data; a volume that does not exist is already deleted. */
    void delete(String id) throws VolumeException;

    /** Grows a volume; a size at or below the current one leaves it unchanged. */
    Volume expand(String id, long bytes, long inodes) throws VolumeException;

    Volume modify(String id, Map<String, String> mutableParameters) throws VolumeException;

    Snapshot createSnapshot(String name, String sourceVolumeId) throws VolumeException;

    Optional<Snapshot> snapshot(String id);

    /** All snapshots, ordered by id. */
    List<Snapshot> snapshots();

    void deleteSnapshot(String id) throws VolumeException;

    /** Whether this store takes group snapshots ({@link #createGroupSnapshot}). */
    default boolean groupSnapshots() {
        return false;
    }

    /**
     * Takes snapshots of all the volumes at one instant ({@link GroupCut}), or returns the existing group of the same
     * name when it has the same volumes. IN_USE when the volumes cannot be taken together.
     */
    default GroupSnapshot createGroupSnapshot(String name, List<String> sourceVolumeIds) throws VolumeException {
        throw new VolumeException(VolumeException.Reason.INVALID, "this driver's store takes no group snapshots");
    }

    default Optional<GroupSnapshot> groupSnapshot(String id) {
        return Optional.empty();
    }

    /** Deletes the group and its snapshots; a group that does not exist is already deleted. */
    default void deleteGroupSnapshot(String id) throws VolumeException {}

    /** Bytes still free for new volumes on {@code node} (null: the shared backend). */
    long availableBytes(Backend backend, String node) throws VolumeException;

    /** The nodes that can hold local volumes, for topology. */
    List<String> nodes();

    /** Whether the store can serve requests now (for Probe). */
    boolean ready();

    @Override
    void close();
}
