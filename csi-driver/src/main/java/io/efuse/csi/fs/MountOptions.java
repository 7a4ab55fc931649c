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
 * @param queues the request transport wanted ({@link Queues#AUTO}: io_uring when the kernel has it on)
 * @param shownBytes a size statfs shows for a volume whose size something else enforces (btrfs qgroups), 0 for
 *     none; ignored where the daemon enforces maxBytes itself
 * @param usageFile where the used bytes of such a volume are read, as a decimal number, at each statfs (for
 *     example a qgroup's {@code referenced} file in sysfs); null, or unreadable: the disk's own figures
 */
public record MountOptions(Path backing, Path mountPoint, Tier tier, int workers, Duration entryTimeout,
        Duration attrTimeout, boolean writebackCache, boolean readOnly, long maxBytes, long maxInodes,
        String fsName, Queues queues, long shownBytes, Path usageFile) {

    /** The most request threads one mount may have. */
    public static final int MAX_WORKERS = 64;

    /** Options without a shown size. */
    public MountOptions(Path backing, Path mountPoint, Tier tier, int workers, Duration entryTimeout,
            Duration attrTimeout, boolean writebackCache, boolean readOnly, long maxBytes, long maxInodes,
            String fsName, Queues queues) {
        this(backing, mountPoint, tier, workers, entryTimeout, attrTimeout, writebackCache, readOnly, maxBytes,
                maxInodes, fsName, queues, 0, null);
    }

    /** Options with {@link Queues#AUTO}. */
    public MountOptions(Path backing, Path mountPoint, Tier tier, int workers, Duration entryTimeout,
            Duration attrTimeout, boolean writebackCache, boolean readOnly, long maxBytes, long maxInodes,
            String fsName) {
        this(backing, mountPoint, tier, workers, entryTimeout, attrTimeout, writebackCache, readOnly, maxBytes,
                maxInodes, fsName, Queues.AUTO);
    }

    public MountOptions {
        Objects.requireNonNull(backing, "backing");
        Objects.requireNonNull(queues, "queues");
        Objects.requireNonNull(mountPoint, "mountPoint");
        Objects.requireNonNull(tier, "tier");
        Objects.requireNonNull(entryTimeout, "entryTimeout");
        Objects.requireNonNull(attrTimeout, "attrTimeout");
        if (workers < 1 || workers > MAX_WORKERS) {
            throw new IllegalArgumentException("workers must be between 1 and " + MAX_WORKERS + ", not " + workers);
        }
        if (entryTimeout.isNegative() || attrTimeout.isNegative()) {
            throw new IllegalArgumentException("timeouts must not be negative");
        }
        if (maxBytes < 0 || maxInodes < 0) {
            throw new IllegalArgumentException("limits must not be negative");
        }
        if (shownBytes < 0) {
            throw new IllegalArgumentException("the shown size must not be negative");
        }
        if (fsName == null || fsName.isBlank() || fsName.contains(",") || fsName.contains(" ")) {
            throw new IllegalArgumentException("fsName must be a non-empty word, not '" + fsName + "'");
        }
    }

    public static Builder builder(Path backing, Path mountPoint) {
        return new Builder(backing, mountPoint);
    }

    /** The options as key=value text, as they travel between the fd keeper and the daemon. */
    public String toText() {
        try {
            return SessionFile.optionsText(this);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** Options from {@link #toText()}; IllegalArgumentException for bad values. */
    public static MountOptions fromText(String text) {
        try {
            return SessionFile.optionsFromText(text);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** Whether the daemon enforces limits itself (a shown size alone is not one: it enforces nothing). */
    public boolean limited() {
        return maxBytes > 0 || maxInodes > 0;
    }

    /** These options with other limits (online expansion). */
    public MountOptions withLimits(long bytes, long inodes) {
        return new MountOptions(backing, mountPoint, tier, workers, entryTimeout, attrTimeout, writebackCache,
                readOnly, bytes, inodes, fsName, queues, shownBytes, usageFile);
    }

    /** These options with another tier (a live change of the data path of files opened from then on). */
    public MountOptions withTier(Tier t) {
        return new MountOptions(backing, mountPoint, t, workers, entryTimeout, attrTimeout, writebackCache,
                readOnly, maxBytes, maxInodes, fsName, queues, shownBytes, usageFile);
    }

    public MountOptions withShownSize(long bytes) {
        return new MountOptions(backing, mountPoint, tier, workers, entryTimeout, attrTimeout, writebackCache,
                readOnly, maxBytes, maxInodes, fsName, queues, bytes, usageFile);
    }

    /**
     * The default worker count on a machine with this many cores: one per core, at least 2, and no more than a
     * mount may have, so that the defaults hold on nodes with more cores than that.
     */
    static int defaultWorkers(int cores) {
        return Math.clamp(cores, 2, MAX_WORKERS);
    }

    /** Defaults: tier auto, {@link #defaultWorkers} for this machine, 60 s entry/attr timeouts, no limits. */
    public static final class Builder {
        private final Path backing;
        private final Path mountPoint;
        private Tier tier = Tier.AUTO;
        private int workers = defaultWorkers(Runtime.getRuntime().availableProcessors());
        private Duration entryTimeout = Duration.ofSeconds(60);
        private Duration attrTimeout = Duration.ofSeconds(60);
        private boolean writebackCache;
        private boolean readOnly;
        private long maxBytes;
        private long maxInodes;
        private String fsName = "efuse";
        private Queues queues = Queues.AUTO;
        private long shownBytes;
        private Path usageFile;

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
        public Builder queues(Queues q) { this.queues = q; return this; }
        /** The size statfs shows where something else enforces it, and the file holding the bytes used (may be null). */
        public Builder shownSize(long bytes, Path usageFile) { this.shownBytes = bytes; this.usageFile = usageFile; return this; }

        public MountOptions build() {
            return new MountOptions(backing, mountPoint, tier, workers, entryTimeout, attrTimeout, writebackCache,
                    readOnly, maxBytes, maxInodes, fsName, queues, shownBytes, usageFile);
        }
    }
}
