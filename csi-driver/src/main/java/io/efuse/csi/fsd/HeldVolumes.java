package io.efuse.csi.fsd;

import io.efuse.csi.fsd.FdKeeper.Held;
import io.efuse.csi.sys.LinuxConstants;
import io.efuse.csi.sys.MountTable;
import io.efuse.csi.sys.Syscalls;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The volumes whose device descriptors the keeper holds, in the order they came, and the descriptors' life: a
 * volume's are closed when a new set replaces them, when it is released, and when the keeper closes. Not
 * synchronized: the keeper's lock guards it, and every caller holds that lock.
 */
final class HeldVolumes {
    /** Logs as the keeper: these lines are the keeper's, and operators and tests know them by that name. */
    private static final Logger LOG = LoggerFactory.getLogger(FdKeeper.class);

    private final Map<String, Held> held = new LinkedHashMap<>();

    Held get(String volumeId) {
        return held.get(volumeId);
    }

    boolean contains(String volumeId) {
        return held.containsKey(volumeId);
    }

    Collection<Held> all() {
        return held.values();
    }

    Set<String> ids() {
        return held.keySet();
    }

    /** Holds h instead of what was held for its volume. */
    void hold(Held h) {
        // The new set first, then the old one goes: a device file in both stays open throughout.
        Held old = held.put(h.volumeId(), h);
        if (old != null) {
            closeAll(old.fds());
        }
    }

    /** Records the tier the daemon now serves a held volume with. */
    void retier(String volumeId, String tier) {
        Held h = held.get(volumeId);
        if (h != null) {
            held.put(h.volumeId(), new Held(h.volumeId(), h.mountPoint(), h.stateDir(), tier, h.fds()));
        }
    }

    /** Stops holding a volume, without closing its descriptors; null if it was not held. */
    Held remove(String volumeId) {
        return held.remove(volumeId);
    }

    /** Stops holding a volume and closes its descriptors. */
    void drop(String volumeId) {
        Held h = held.remove(volumeId);
        if (h != null) {
            closeAll(h.fds());
        }
    }

    /** Closes every held descriptor and forgets the volumes. */
    void dropAll() {
        for (Held h : held.values()) {
            closeAll(h.fds());
        }
        held.clear();
    }

    static void closeAll(int[] fds) {
        for (int fd : fds) {
            Syscalls.close(fd);
        }
    }

    /** Ends a held volume without a daemon: detaches its mount, lets its connection go and drops its state. */
    static void release(Held h) throws IOException {
        LOG.warn("fd keeper: no daemon serves {}; unmounting {} here", h.volumeId(), h.mountPoint());
        try {
            if (MountTable.isMountPoint(h.mountPoint())) {
                Syscalls.umount(h.mountPoint(), LinuxConstants.MNT_DETACH | LinuxConstants.UMOUNT_NOFOLLOW);
            }
        } finally {
            // the last references: the kernel ends the connection and whatever still waited on it
            closeAll(h.fds());
        }
        deleteState(h.stateDir());
    }

    /** A volume's state directory and the files in it (it holds no directories). */
    static void deleteState(Path stateDir) throws IOException {
        if (Files.isDirectory(stateDir, LinkOption.NOFOLLOW_LINKS)) {
            try (var files = Files.list(stateDir)) {
                for (Path p : files.toList()) {
                    Files.deleteIfExists(p);
                }
            }
            Files.deleteIfExists(stateDir);
        }
    }
}
