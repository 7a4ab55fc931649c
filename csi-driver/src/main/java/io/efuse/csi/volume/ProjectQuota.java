package io.efuse.csi.volume;

import io.efuse.csi.sys.ProjectQuotaSyscalls;
import io.efuse.csi.sys.ErrnoException;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Kernel-enforced volume sizes on a backing root whose filesystem enforces project quotas (ext4 mounted with
 * prjquota on an image made with -O quota,project; XFS with prjquota). Each volume directory gets its own project
 * id, inherited by everything created below it, and hard limits on bytes and inodes. Writes past the limit fail
 * with EDQUOT in the kernel, whatever path they take — through the FUSE daemon or a passthrough file alike.
 */
public final class ProjectQuota {
    private final ProjectQuotaSyscalls sys;
    private final Path root;

    private ProjectQuota(ProjectQuotaSyscalls sys, Path root) {
        this.sys = sys;
        this.root = root;
    }

    /** Project quotas for {@code root}, if its filesystem accounts and enforces them. */
    public static Optional<ProjectQuota> probe(ProjectQuotaSyscalls sys, Path root) {
        try {
            ProjectQuotaSyscalls.QuotaState state = sys.state(root);
            if (state.accounting() && state.enforcing()) {
                return Optional.of(new ProjectQuota(sys, root));
            }
            return Optional.empty();
        } catch (ErrnoException e) {
            return Optional.empty(); // ENOSYS, ENOTTY, ESRCH…: this filesystem has no project quotas
        }
    }

    public void apply(Path volumeDir, int projectId, Limits limits) throws ErrnoException {
        sys.assignProject(volumeDir, projectId);
        sys.setLimits(root, projectId, limits.bytes(), limits.inodes());
    }

    /** Removes the limits of a project whose directory is gone, so that a reused id starts clean. */
    public void release(int projectId) throws ErrnoException {
        sys.setLimits(root, projectId, 0, 0);
    }

    public Usage usage(int projectId, Limits limits) throws ErrnoException {
        ProjectQuotaSyscalls.ProjectUsage u = sys.usage(root, projectId);
        return new Usage(u.bytes(), limits.bytes(), u.inodes(), limits.inodes());
    }
}
