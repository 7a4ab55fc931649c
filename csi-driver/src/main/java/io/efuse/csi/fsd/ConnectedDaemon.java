package io.efuse.csi.fsd;

import java.util.Set;

/** A daemon connected to the fd keeper, as the keeper knows it; read and written under the keeper's lock. */
final class ConnectedDaemon {
    final KeeperLink link;
    long pid;
    /** The newest fd keeper protocol version the daemon speaks. */
    int protocol = 1;
    /**
     * What a daemon put on standby said it serves: after a keeper restart the first daemon to connect serves,
     * and it may be an idle one while the other still serves volumes (both DaemonSets roll at once).
     */
    Set<String> servesAsStandby = Set.of();

    ConnectedDaemon(KeeperLink link) {
        this.link = link;
    }
}
