package io.efuse.csi.fsd;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * Calls waiting for the serving daemon's answer about a volume, one a volume, completed with the answer. Not
 * synchronized: the keeper's lock guards it, and every caller holds that lock.
 */
final class PendingAnswers {
    private final Map<String, CompletableFuture<KeeperMessage>> pending = new LinkedHashMap<>();

    boolean contains(String volumeId) {
        return pending.containsKey(volumeId);
    }

    void put(String volumeId, CompletableFuture<KeeperMessage> f) {
        pending.put(volumeId, f);
    }

    void remove(String volumeId) {
        pending.remove(volumeId);
    }

    /** Completes the call waiting about volume with answer, or with an IOException of error if there is one. */
    void complete(String volume, KeeperMessage answer, String error) {
        CompletableFuture<KeeperMessage> f = pending.remove(volume);
        if (f != null) {
            if (error == null) {
                f.complete(answer);
            } else {
                f.completeExceptionally(new IOException(error));
            }
        }
    }

    /** Fails every waiting call: the daemon that was to answer them is gone. */
    void daemonGone() {
        for (Map.Entry<String, CompletableFuture<KeeperMessage>> e : pending.entrySet()) {
            e.getValue().completeExceptionally(new IOException("the daemon went away while working on "
                    + e.getKey()));
        }
        pending.clear();
    }
}
