package io.efuse.csi.volume;

import io.efuse.csi.sys.BtrfsSyscalls;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Finds the engines a backing root offers, and says why the others are missing. */
final class EngineProbes {
    private EngineProbes() {}

    static void probe(RootLayout layout, StorageOptions options, TreeCopy treeCopy, Optional<ProjectQuota> quota,
                      List<StorageEngine> engines, Map<EngineKind, String> missing) {
        StringBuilder why = new StringBuilder();
        BtrfsEngine.probe(layout, new BtrfsSyscalls(), treeCopy, why).ifPresentOrElse(engines::add,
                () -> missing.put(EngineKind.BTRFS, why.toString()));
        DirectoryEngine directory = new DirectoryEngine(layout, quota, treeCopy);
        if (quota.isPresent()) {
            engines.add(directory);
            missing.put(EngineKind.DAEMON, "the root's filesystem enforces project quotas, which its directories get");
        } else {
            missing.put(EngineKind.PROJECT_QUOTA, "the root's filesystem does not enforce project quotas "
                    + "(ext4 needs -O quota,project and the prjquota mount option, XFS prjquota)");
        }
        StringBuilder noImage = new StringBuilder();
        ImageEngine.probe(layout, options.imageFs(), treeCopy, noImage).ifPresentOrElse(engines::add,
                () -> missing.put(EngineKind.IMAGE, noImage.toString()));
        if (quota.isEmpty()) {
            engines.add(directory);
        }
    }
}
