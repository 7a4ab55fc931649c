package io.efuse.csi.fs;

/**
 * Told of every session a process starts serving (a fresh mount or one adopted from an earlier daemon), e.g. to
 * export its figures and size its workers from live load. The handle it returns is closed when the session ends.
 */
@FunctionalInterface
public interface MountObserver {
    MountObserver NONE = (volumeId, mount) -> () -> { };

    AutoCloseable served(String volumeId, EfuseMount mount);
}
