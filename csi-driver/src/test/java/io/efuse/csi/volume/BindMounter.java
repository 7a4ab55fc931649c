package io.efuse.csi.volume;

import io.efuse.csi.sys.ErrnoException;
import io.efuse.csi.sys.LinuxConstants;
import io.efuse.csi.sys.MountTable;
import io.efuse.csi.sys.Syscalls;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A stand-in for eFuse sessions in tests of the node service: the backing directory is bind-mounted at the
 * staging path (a real mount, so publish, unpublish and the mount table behave as in production). {@link #kill}
 * detaches a mount behind the node service's back, as a crashed daemon would leave it.
 */
public final class BindMounter implements VolumeMounter {
    public final AtomicInteger mounts = new AtomicInteger();

    @Override
    public MountedVolume mount(MountSpec spec) throws IOException {
        Syscalls.mount(spec.backing().toString(), spec.mountPoint(), null, LinuxConstants.MS_BIND, null);
        if (spec.readOnly()) {
            Syscalls.mount("none", spec.mountPoint(), null,
                    LinuxConstants.MS_REMOUNT | LinuxConstants.MS_BIND | LinuxConstants.MS_RDONLY, null);
        }
        mounts.incrementAndGet();
        return new Bind(spec.mountPoint(), spec.readOnly(), spec.tier(), spec.writebackCache(),
                new boolean[] {true});
    }

    @Override
    public String describe() {
        return "bind mounts (test)";
    }

    /** Marks a mount dead, as if its daemon had crashed. */
    public static void kill(MountedVolume v) {
        ((Bind) v).state[0] = false;
    }

    private record Bind(Path mountPoint, boolean readOnly, String stagedTier, boolean stagedWritebackCache,
                        boolean[] state) implements MountedVolume {
        @Override
        public boolean alive() {
            return state[0];
        }

        @Override
        public String tier() {
            return "bind";
        }

        @Override
        public void resize(Limits limits) {}

        /** A bind mount has no session to change: whatever differs from how it was staged waits. */
        @Override
        public ModifiedSettings modify(String tier, boolean writebackCache) {
            List<String> waiting = new ArrayList<>();
            if (!tier.equals(stagedTier)) {
                waiting.add(ModifiedSettings.TIER);
            }
            if (writebackCache != stagedWritebackCache) {
                waiting.add(ModifiedSettings.WRITEBACK_CACHE);
            }
            return new ModifiedSettings(tier(), waiting);
        }

        @Override
        public WriteHold holdWrites(java.time.Duration drain, java.time.Duration hold) throws VolumeException {
            throw new VolumeException(VolumeException.Reason.NOT_READY, "a bind mount has no daemon to hold its writes");
        }

        @Override
        public void close() throws IOException {
            state[0] = false;
            if (MountTable.isMountPoint(mountPoint)) {
                try {
                    Syscalls.umount(mountPoint, LinuxConstants.MNT_DETACH);
                } catch (ErrnoException e) {
                    if (MountTable.isMountPoint(mountPoint)) {
                        throw e;
                    }
                }
            }
        }
    }
}
