package io.efuse.csi.fs;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * How an eFuse volume is mounted.
 *
 * @param backing the directory whose tree the mount serves
 * @param mountPoint where it appears
 * @param tier the data path wanted ({@link Tier#AUTO}: the best the kernel offers)
 * @param workers threads reading requests, each on its own cloned /dev/fuse descriptor
 * @param entryTimeout how long the kernel may trust a name lookup (the daemon owns the backing tree,
 *     so long timeouts are safe; changes it makes itself are invalidated explicitly)
 * @param attrTimeout how long the kernel may trust attributes
 * @param writebackCache let the kernel cache writes (classic tier only)
 * @param readOnly mount read-only
 * @param maxBytes byte limit of the volume, 0 for none: enforced by the daemon and shown by statfs
 * @param maxInodes inode limit of the volume, 0 for none
 * @param fsName the mount's source name, shown in the mount table
 */
public record MountOptions(Path backing, Path mountPoint, Tier tier, int workers, Duration entryTimeout,
        Duration attrTimeout, boolean writebackCache, boolean readOnly, long maxBytes, long maxInodes,
        String fsName) {

    public MountOptions {
        Objects.requireNonNull(backing, "backing");
        Objects.requireNonNull(mountPoint, "mountPoint");
        Objects.requireNonNull(tier, "tier");
        Objects.requireNonNull(entryTimeout, "entryTimeout");
        Objects.requireNonNull(attrTimeout, "attrTimeout");
        if (workers < 1 || workers > 64) {
            throw new IllegalArgumentException("workers must be between 1 and 64, not " + workers);
        }
        if (entryTimeout.isNegative() || attrTimeout.isNegative()) {
            throw new IllegalArgumentException("timeouts must not be negative");
        }
        if (maxBytes < 0 || maxInodes < 0) {
            throw new IllegalArgumentException("limits must not be negative");
        }
        if (fsName == null || fsName.isBlank() || fsName.contains(",") || fsName.contains(" ")) {
            throw new IllegalArgumentException("fsName must be a non-empty word, not '" + fsName + "'");
        }
    }

    public static Builder builder(Path backing, Path mountPoint) {
        return new Builder(backing, mountPoint);
    }

    public boolean limited() {
        return maxBytes > 0 || maxInodes > 0;
    }

    /** Defaults: tier auto, one worker per core (at least 2), 60 s entry/attr timeouts, no limits. */
    public static final class Builder {
        private final Path backing;
        private final Path mountPoint;
        private Tier tier = Tier.AUTO;
        private int workers = Math.max(2, Runtime.getRuntime().availableProcessors());
        private Duration entryTimeout = Duration.ofSeconds(60);
        private Duration attrTimeout = Duration.ofSeconds(60);
        private boolean writebackCache;
        private boolean readOnly;
        private long maxBytes;
        private long maxInodes;
        private String fsName = "efuse";

        private Builder(Path backing, Path mountPoint) {
            this.backing = backing;
            this.mountPoint = mountPoint;
        }

        public Builder tier(Tier t) { this.tier = t; return this; }
        public Builder workers(int n) { this.workers = n; return this; }
        public Builder entryTimeout(Duration d) { this.entryTimeout = d; return this; }
        public Builder attrTimeout(Duration d) { this.attrTimeout = d; return this; }
        public Builder timeouts(Duration d) { this.entryTimeout = d; this.attrTimeout = d; return this; }
        public Builder writebackCache(boolean b) { this.writebackCache = b; return this; }
        public Builder readOnly(boolean b) { this.readOnly = b; return this; }
        public Builder limits(long bytes, long inodes) { this.maxBytes = bytes; this.maxInodes = inodes; return this; }
        public Builder fsName(String n) { this.fsName = n; return this; }

        public MountOptions build() {
            return new MountOptions(backing, mountPoint, tier, workers, entryTimeout, attrTimeout, writebackCache,
                    readOnly, maxBytes, maxInodes, fsName);
        }
    }
}
