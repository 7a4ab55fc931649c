package io.efuse.csi.volume;

import java.util.Map;

/**
 * A volume as the stores keep it. {@code node} is the node that holds a {@link Backend#LOCAL} volume's data and
 * is null for {@link Backend#SHARED}. {@code parameters} are fixed at creation; {@code mutableParameters} can be
 * changed later (ControllerModifyVolume).
 */
public record Volume(String id, String name, long capacityBytes, long inodeLimit, Backend backend, String node,
                     ContentSource source, Map<String, String> parameters, Map<String, String> mutableParameters,
                     State state, String message, long createdAtMillis) {

    public enum State { CREATING, READY, FAILED, DELETING }

    public Volume {
        parameters = Map.copyOf(parameters == null ? Map.of() : parameters);
        mutableParameters = Map.copyOf(mutableParameters == null ? Map.of() : mutableParameters);
    }

    public Volume withState(State newState, String newMessage) {
        return new Volume(id, name, capacityBytes, inodeLimit, backend, node, source, parameters, mutableParameters,
                newState, newMessage, createdAtMillis);
    }

    public Volume withCapacity(long bytes, long inodes) {
        return new Volume(id, name, bytes, inodes, backend, node, source, parameters, mutableParameters, state,
                message, createdAtMillis);
    }

    public Volume withMutableParameters(Map<String, String> mutable) {
        return new Volume(id, name, capacityBytes, inodeLimit, backend, node, source, parameters, mutable, state,
                message, createdAtMillis);
    }

    public Limits limits() {
        return new Limits(capacityBytes, inodeLimit);
    }

    public boolean ready() {
        return state == State.READY;
    }
}
