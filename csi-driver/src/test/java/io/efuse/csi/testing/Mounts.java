package io.efuse.csi.testing;

import io.efuse.csi.sys.LinuxConstants;
import io.efuse.csi.sys.MountTable;
import io.efuse.csi.sys.Syscalls;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/** What tests do with the mounts they leave. */
public final class Mounts {
    private Mounts() {}

    /** Detaches every mount under {@code dir}, innermost first, so that its temporary directory can go. */
    public static void unmountEverythingUnder(Path dir) {
        try {
            List<MountTable.Entry> entries = MountTable.read();
            for (int i = entries.size() - 1; i >= 0; i--) {
                Path p = Path.of(entries.get(i).mountPoint());
                if (p.startsWith(dir)) {
                    try {
                        Syscalls.umount(p, LinuxConstants.MNT_DETACH);
                    } catch (IOException e) {
                        // already gone with a parent
                    }
                }
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
