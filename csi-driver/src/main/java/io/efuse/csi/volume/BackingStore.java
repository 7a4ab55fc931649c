package io.efuse.csi.volume;

import io.efuse.csi.sys.FileCloneSyscalls;
import io.efuse.csi.sys.ProjectQuotaSyscalls;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The volumes and snapshots under one backing root, each kept by one {@link StorageEngine}. A new volume gets the
 * engine asked for, or its source's, or the best one this root offers ({@link EngineKind} is in that order); an
 * existing one is found in the engine whose layout holds it, so no record is needed to serve it after a restart.
 * The layout itself is {@link RootLayout}'s.
 */
public final class BackingStore {
    private static final Logger LOG = LoggerFactory.getLogger(BackingStore.class);

    private final RootLayout layout;
    /** The engines this root offers, best first; the directory engine is always last. */
    private final List<StorageEngine> engines;
    /** Why each engine this root does not offer is missing, for errors that say what to change. */
    private final Map<EngineKind, String> missing;
    /** The engines in the order that finds what holds a volume: plain directories last. */
    private final List<StorageEngine> lookupOrder;
    private final StorageEngine preferred;

    private BackingStore(RootLayout layout, List<StorageEngine> engines, Map<EngineKind, String> missing,
                         EngineKind preference) throws IOException {
        this.layout = layout;
        this.engines = List.copyOf(engines);
        this.missing = Map.copyOf(missing);
        List<StorageEngine> order = new ArrayList<>(engines);
        order.sort(java.util.Comparator.comparing(StorageEngine::plainDirectories));
        this.lookupOrder = List.copyOf(order);
        StorageEngine pick = null;
        for (StorageEngine e : engines) {
            if (preference == null || e.kind() == preference) {
                pick = e;
                break;
            }
        }
        if (pick == null) {
            throw new IOException("the " + preference.label() + " engine is not available on " + layout.root + ": "
                    + missing.getOrDefault(preference, "this root's filesystem does not offer it"));
        }
        this.preferred = pick;
        clearWork();
    }

    /** A store with the directory engine only, project quotas or none as given: for tests. */
    public BackingStore(Path root, Optional<ProjectQuota> quota, TreeCopy treeCopy) throws IOException {
        this(new RootLayout(root), directoryOnly(root, quota, treeCopy), Map.of(), null);
    }

    private static List<StorageEngine> directoryOnly(Path root, Optional<ProjectQuota> quota, TreeCopy treeCopy)
            throws IOException {
        return List.of(new DirectoryEngine(new RootLayout(root), quota, treeCopy));
    }

    /**
     * A backing store of plain directories on {@code root}, with project quotas where its filesystem enforces them:
     * for a shared root, whose volumes many nodes serve at once, which no image or subvolume of one node can be.
     */
    public static BackingStore openDirectories(Path root) throws IOException {
        Files.createDirectories(root);
        return new BackingStore(root, ProjectQuota.probe(new ProjectQuotaSyscalls(), root),
                new TreeCopy(new FileCloneSyscalls()));
    }

    /** A backing store on {@code root} that picks the best engine the root offers. */
    public static BackingStore open(Path root) throws IOException {
        return open(root, StorageOptions.AUTO);
    }

    /** A backing store on {@code root} whose new volumes get {@code options.engine()} unless they ask otherwise. */
    public static BackingStore open(Path root, StorageOptions options) throws IOException {
        Files.createDirectories(root);
        if (options.btrfsPoolImage() != null) {
            try {
                new BtrfsPool(new io.efuse.csi.sys.LoopDevices()).ensure(options.btrfsPoolImage(),
                        options.btrfsPoolBytes(), root);
            } catch (VolumeException e) {
                throw new IOException("btrfs pool " + options.btrfsPoolImage() + ": " + e.getMessage(), e);
            }
        }
        RootLayout layout = new RootLayout(root);
        TreeCopy treeCopy = new TreeCopy(new FileCloneSyscalls());
        Optional<ProjectQuota> quota = ProjectQuota.probe(new ProjectQuotaSyscalls(), layout.root);
        List<StorageEngine> engines = new ArrayList<>();
        Map<EngineKind, String> missing = new java.util.EnumMap<>(EngineKind.class);
        EngineProbes.probe(layout, options, treeCopy, quota, engines, missing);
        BackingStore store = new BackingStore(layout, engines, missing, options.engine());
        LOG.info("backing root {}: engines {}, new volumes get {}", layout.root,
                engines.stream().map(e -> e.kind().label()).toList(), store.preferred.kind().label());
        missing.forEach((k, why) -> LOG.info("backing root {}: no {} engine: {}", layout.root, k.label(), why));
        return store;
    }

    public Path root() {
        return layout.root;
    }

    /** The engine a new volume gets when it asks for none. */
    public EngineKind defaultEngine() {
        return preferred.kind();
    }

    /** The engines this root offers, best first. */
    public List<EngineKind> engines() {
        return engines.stream().map(StorageEngine::kind).toList();
    }

    /** The engine that holds volume {@code id}, if the volume is here. */
    public Optional<EngineKind> engineOf(String id) {
        return holderOf(id).map(StorageEngine::kind);
    }

    /** Where the FUSE daemon serves volume {@code id} from (see {@link #serve}, which makes it ready). */
    public Path volumeDir(String id) {
        return layout.volumeDir(id);
    }

    /** The ids of the provisioned volumes present (inline volumes' are {@link #inlineIds}). */
    public List<String> volumeIds() throws IOException {
        return ids(VolumeIds::isVolumeId);
    }

    /** The ids of the inline volumes present: their records are the node's, not a store's. */
    public List<String> inlineIds() throws IOException {
        return ids(VolumeIds::isInlineId);
    }

    private List<String> ids(Predicate<String> kind) throws IOException {
        java.util.TreeSet<String> ids = new java.util.TreeSet<>();
        try (var entries = Files.list(layout.volumes)) {
            entries.map(p -> p.getFileName().toString()).filter(kind).forEach(ids::add);
        }
        try (var entries = Files.list(layout.images)) {
            entries.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".img"))
                    .map(n -> n.substring(0, n.length() - 4)).filter(kind).forEach(ids::add);
        }
        return List.copyOf(ids);
    }

    public boolean volumeExists(String id) {
        return holderOf(id).isPresent();
    }

    /**
     * Makes a volume held to {@code limits}, filled from {@code source} when given, by engine {@code requested}
     * (null: the source's engine where this root offers it, else the default). Idempotent: an existing volume only
     * gets its limits (re)applied, by the engine that holds it.
     */
    public void createVolume(String id, Limits limits, ContentSource source, EngineKind requested)
            throws IOException, VolumeException {
        Optional<StorageEngine> holder = holderOf(id);
        if (holder.isPresent()) {
            if (requested != null && holder.get().kind() != requested) {
                throw new VolumeException(VolumeException.Reason.ALREADY_EXISTS, "volume " + id + " exists on the "
                        + holder.get().kind().label() + " engine, not " + requested.label());
            }
            holder.get().resizeVolume(id, limits);
            return;
        }
        try (SourceData data = source == null ? null : sourceData(source)) {
            StorageEngine engine = requested != null ? engine(requested)
                    : data != null && offers(data.engine()) ? engine(data.engine()) : chosenFor(limits);
            engine.createVolume(id, limits, data);
        }
    }

    /** {@link #createVolume(String, Limits, ContentSource, EngineKind)} with the default engine. */
    public void createVolume(String id, Limits limits, ContentSource source) throws IOException, VolumeException {
        createVolume(id, limits, source, null);
    }

    public void resizeVolume(String id, Limits limits) throws IOException, VolumeException {
        require(id).resizeVolume(id, limits);
    }

    public void deleteVolume(String id) throws IOException, VolumeException {
        Optional<StorageEngine> holder = holderOf(id);
        if (holder.isPresent()) {
            holder.get().deleteVolume(id);
        }
    }

    /** Takes a snapshot of a volume, by the volume's engine; idempotent. Returns the bytes it holds. */
    public long createSnapshot(String snapshotId, String volumeId) throws IOException, VolumeException {
        for (StorageEngine e : lookupOrder) {
            if (e.holdsSnapshot(snapshotId)) {
                return e.createSnapshot(snapshotId, volumeId);
            }
        }
        return require(volumeId).createSnapshot(snapshotId, volumeId);
    }

    /** See {@link StorageEngine#freeze}: the volume's engine freezes it, or null when it cannot. */
    public AutoCloseable freeze(String volumeId) throws IOException, VolumeException {
        return require(volumeId).freeze(volumeId);
    }

    public void deleteSnapshot(String id) throws IOException, VolumeException {
        for (StorageEngine e : engines) {
            if (e.holdsSnapshot(id)) {
                e.deleteSnapshot(id);
            }
        }
    }

    public boolean snapshotExists(String id) {
        return engines.stream().anyMatch(e -> e.holdsSnapshot(id));
    }

    /** How much of its limits a volume uses, as its engine counts it. */
    public Usage usage(String id, Limits limits) throws IOException, VolumeException {
        return require(id).usage(id, limits);
    }

    /** The directory to serve for volume {@code id}, ready to be served (mounted again after a reboot). */
    public Path serve(String id) throws IOException, VolumeException {
        return require(id).serve(id);
    }

    /** What the daemon serving volume {@code id} enforces and shows. */
    public ServedLimits served(String id, Limits limits) throws IOException, VolumeException {
        return require(id).served(id, limits);
    }

    /** Bytes still free for new volumes, as the default engine sees it. */
    public long availableBytes() throws IOException {
        return preferred.availableBytes();
    }

    public long totalBytes() throws IOException {
        return Files.getFileStore(layout.root).getTotalSpace();
    }

    /** Whether this root offers engine {@code kind}. */
    public boolean offers(EngineKind kind) {
        return engines.stream().anyMatch(e -> e.kind() == kind);
    }

    /** Why this root does not offer engine {@code kind}, when it does not. */
    public Optional<String> whyMissing(EngineKind kind) {
        return offers(kind) ? Optional.empty()
                : Optional.of(missing.getOrDefault(kind, "this root's filesystem does not offer it"));
    }

    private StorageEngine engine(EngineKind kind) throws VolumeException {
        for (StorageEngine e : engines) {
            if (e.kind() == kind) {
                return e;
            }
        }
        throw new VolumeException(VolumeException.Reason.INVALID, "the " + kind.label() + " engine is not "
                + "available on this node's backing root " + layout.root + ": " + whyMissing(kind).orElseThrow()
                + " (it offers " + engines().stream().map(EngineKind::label).toList() + ")");
    }

    /** The preferred engine, or where it does not suit a volume of this size, the next best that does. */
    private StorageEngine chosenFor(Limits limits) {
        if (preferred.suits(limits)) {
            return preferred;
        }
        for (StorageEngine e : engines) {
            if (e.suits(limits)) {
                return e;
            }
        }
        return preferred;
    }

    /** The engine holding a volume: engines with their own layouts are asked before plain directories. */
    private Optional<StorageEngine> holderOf(String id) {
        for (StorageEngine e : lookupOrder) {
            if (e.holdsVolume(id)) {
                return Optional.of(e);
            }
        }
        return Optional.empty();
    }

    private StorageEngine require(String id) throws IOException {
        return holderOf(id).orElseThrow(() -> new NoSuchFileException(layout.volumeDir(id).toString(), null,
                "volume " + id + " has no data on this node"));
    }

    private SourceData sourceData(ContentSource source) throws IOException, VolumeException {
        for (StorageEngine e : lookupOrder) {
            boolean holds = source.kind() == ContentSource.Kind.SNAPSHOT ? e.holdsSnapshot(source.id())
                    : e.holdsVolume(source.id());
            if (holds) {
                return e.source(source.kind(), source.id());
            }
        }
        throw new VolumeException(VolumeException.Reason.NOT_FOUND, "content source " + source.kind() + " "
                + source.id() + " has no data on this node");
    }

    /** Leftovers of builds and deletions that a crash interrupted. */
    private void clearWork() throws IOException {
        try (var entries = Files.list(layout.work)) {
            for (Path p : entries.toList()) {
                boolean removed = false;
                for (StorageEngine e : engines) {
                    if (e.removeLeftover(p)) {
                        removed = true;
                        break;
                    }
                }
                if (!removed) {
                    RootLayout.removeTree(p);
                }
            }
        }
    }
}
