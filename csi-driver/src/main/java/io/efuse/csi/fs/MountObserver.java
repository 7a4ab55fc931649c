package io.efuse.csi.fs;

/**
 * Told of every session a process starts serving (a fresh mount or one adopted from an earlier daemon), e.g. to
 * export its figures and size its workers from live load. The report it returns is closed when the session ends.
 * Neither call fails: figures are not worth a volume, so an observer that cannot report a session logs why and the
 * session is served all the same.
 */
@FunctionalInterface
public interface MountObserver {
    /** What an observer keeps for one session until it ends. */
    interface Report extends AutoCloseable {
        @Override
        void close();
    }

    MountObserver NONE = (volumeId, mount) -> () -> { };

    Report served(String volumeId, EfuseMount mount);
}
