package io.efuse.csi.volume;

import io.efuse.csi.fsd.MountProbe;
import io.efuse.csi.sys.Errno;
import io.efuse.csi.sys.ErrnoException;
import io.efuse.csi.sys.LinuxConstants;
import io.efuse.csi.sys.MountTable;
import io.efuse.csi.sys.Syscalls;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What happens at a staging or target path of the node: looking at it without hanging on a dead FUSE mount,
 * clearing a leftover mount before a session is mounted there, binding a staged volume at a target, and unmounting
 * and removing a target. The CSI node service decides what to do; this does it, so that a request goes down once.
 */
public final class NodePaths {
    private static final Logger LOG = LoggerFactory.getLogger(NodePaths.class);
    private final PathProbe probe;

    /** @param statTimeout how long a stat of a path may take before the path counts as broken */
    public NodePaths(Duration statTimeout) {
        this.probe = new PathProbe(statTimeout);
    }

    /** stat(2) of path, bounded: a path on a hung FUSE mount is BROKEN, never a hung caller. */
    public PathProbe.Result probe(Path path) {
        return probe.probe(path);
    }

    /** The mount points that show the same tree as path: the staging path and every target bound to it. */
    public Set<Path> boundTo(Path path) throws IOException {
        return MountTable.sameTreeAs(path);
    }

    public boolean mountedReadOnly(Path path) throws IOException {
        return MountTable.find(path).map(e -> e.options().equals("ro") || e.options().startsWith("ro,")).orElse(false);
    }

    /** Makes staging ready for a new session: the directory exists, and nothing is mounted there any more. */
    public void prepareStaging(Path staging) throws IOException {
        Files.createDirectories(staging);
        detachLeftover(staging);
    }

    /**
     * Binds staging at target, read-only or with the given mount flags. Whatever was mounted at target is unmounted
     * first: a target left on a dead connection (its session ended with the last process) cannot even be looked
     * at until then. A bind whose remount fails is detached again.
     */
    public void bind(Path staging, Path target, boolean readOnly, long flags) throws IOException {
        unmountAll(target);
        Files.createDirectories(target);
        Syscalls.mount(staging.toString(), target, null, LinuxConstants.MS_BIND, null);
        long remount = flags & ~LinuxConstants.MS_RDONLY;
        if (readOnly || remount != 0) {
            try {
                Syscalls.mount("none", target, null, LinuxConstants.MS_REMOUNT | LinuxConstants.MS_BIND
                        | remount | (readOnly ? LinuxConstants.MS_RDONLY : 0), null);
            } catch (ErrnoException e) {
                Syscalls.umount(target, LinuxConstants.MNT_DETACH);
                throw e;
            }
        }
    }

    /** Unbinds target and removes the directory kubelet asked for. */
    public void unpublish(Path target) throws IOException {
        unmountAll(target);
        removeTarget(target);
    }

    /** Lazily detaches target (it never blocks on the filesystem); a target that is no mount any more is fine. */
    public static void detach(Path target) throws ErrnoException {
        try {
            Syscalls.umount(target, LinuxConstants.MNT_DETACH | LinuxConstants.UMOUNT_NOFOLLOW);
        } catch (ErrnoException e) {
            if (e.errno() != Errno.EINVAL) {
                throw e;
            }
        }
    }

    /**
     * A mount left at a staging path by an earlier process whose session nothing serves any more: a dead or
     * hung FUSE connection is aborted first, so that whatever still waits on it returns, then the mount is
     * detached before reuse.
     */
    private void detachLeftover(Path path) throws IOException {
        if (MountTable.isMountPoint(path)) {
            MountProbe.State was = MountProbe.repair(path, Duration.ofSeconds(2));
            LOG.warn("detaching a leftover mount at {} (it was {})", path, was.name().toLowerCase(java.util.Locale.ROOT));
            unmountAll(path);
        }
    }

    /**
     * Unmounts every mount stacked at {@code path}. A plain unmount first; a busy or dead one (EBUSY, ENOTCONN)
     * is detached, which never blocks on the filesystem.
     */
    public void unmountAll(Path path) throws IOException {
        for (int i = 0; i < 16 && MountTable.isMountPoint(path); i++) {
            try {
                Syscalls.umount(path, LinuxConstants.UMOUNT_NOFOLLOW);
            } catch (ErrnoException e) {
                if (e.errno() == Errno.EINVAL && !MountTable.isMountPoint(path)) {
                    return;
                }
                Syscalls.umount(path, LinuxConstants.MNT_DETACH | LinuxConstants.UMOUNT_NOFOLLOW);
            }
        }
        if (MountTable.isMountPoint(path)) {
            throw new IOException("unmount " + path + ": still mounted after 16 unmounts");
        }
    }

    /** Removes the target directory kubelet asked for, if it is there and no longer a mount. */
    private void removeTarget(Path target) throws IOException {
        PathProbe.Result r = probe.probe(target);
        if (r.state() == PathProbe.State.MISSING) {
            return;
        }
        if (r.state() == PathProbe.State.BROKEN) {
            throw new IOException(r.detail());
        }
        if (Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS)) {
            try (var entries = Files.list(target)) {
                if (entries.findAny().isPresent()) {
                    throw new IOException("target " + target + " is not empty after unmounting; leaving it");
                }
            }
        }
        Files.deleteIfExists(target);
    }
}
