package io.efuse.csi.metrics;

import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Which eFuse volume each FUSE connection of this node serves, so that per-connection figures from the monitor
 * become per-volume series. The process that mounts registers each mount and forgets it on unmount.
 */
public final class VolumeDirectory {

    /** A mounted volume: its CSI volume id (or a name for standalone mounts), mount point and running tier. */
    public record Volume(int connection, String volumeId, String mountPoint, String tier) {
    }

    private final Map<Integer, Volume> byConnection = new ConcurrentHashMap<>();

    public void register(Volume v) {
        byConnection.put(v.connection(), v);
    }

    public void forget(int connection) {
        byConnection.remove(connection);
    }

    public Optional<Volume> byConnection(int connection) {
        return Optional.ofNullable(byConnection.get(connection));
    }

    public Map<Integer, Volume> all() {
        return Map.copyOf(byConnection);
    }
}
