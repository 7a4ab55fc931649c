package io.efuse.csi.csi;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One operation at a time per volume (or snapshot): a second call on a key that has one in flight is rejected
 * with ABORTED at once, as the spec suggests, rather than queued behind it.
 */
final class OperationLocks {
    private final Set<String> inFlight = ConcurrentHashMap.newKeySet();

    /** A held key; closing it releases the key. */
    interface Held extends AutoCloseable {
        @Override
        void close();
    }

    Held acquire(String key) {
        if (!inFlight.add(key)) {
            throw CsiErrors.aborted("an operation on " + key + " is already in progress");
        }
        return () -> inFlight.remove(key);
    }

    Held acquire(String first, String second) {
        Held a = acquire(first);
        if (first.equals(second)) {
            return a;
        }
        try {
            Held b = acquire(second);
            return () -> {
                b.close();
                a.close();
            };
        } catch (RuntimeException e) {
            a.close();
            throw e;
        }
    }
}
