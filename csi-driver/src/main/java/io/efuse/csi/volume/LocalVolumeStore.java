package io.efuse.csi.volume;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.json.JsonMapper;

/**
 * The embedded store for one machine with no cluster: records in a state directory ({@link StateFiles}), data in
 * {@link BackingStore}s on this machine — the node-local root and, when configured, a shared root. It does on the
 * spot what the node reconciler does in a cluster. A volume's directory is made before its record is written and
 * removed after its record is; a directory without a record found at start is a create or delete that a crash
 * cut short, and is removed.
 */
public final class LocalVolumeStore implements VolumeStore {
    private static final Logger LOG = LoggerFactory.getLogger(LocalVolumeStore.class);

    private final String nodeId;
    private final BackingRoots roots;
    private final StateFiles volumeFiles;
    private final StateFiles snapshotFiles;
    private final StateFiles groupFiles;
    private final FileChannel lockChannel;
    private final FileLock lock;
    private final JsonMapper json = JsonMapper.builder().build();
    private final ConcurrentMap<String, Volume> volumes = new ConcurrentHashMap<>();
    private final ConcurrentMap<String, Snapshot> snapshots = new ConcurrentHashMap<>();
    private final ConcurrentMap<String, GroupSnapshot> groups = new ConcurrentHashMap<>();
    private final Duration groupHold;
    private volatile ServedVolumes served;
    private final ConcurrentMap<String, Object> idLocks = new ConcurrentHashMap<>();

    public LocalVolumeStore(Path stateDir, String nodeId, BackingRoots roots) throws IOException {
        this(stateDir, nodeId, roots, Duration.ofMinutes(2));
    }

    /** @param groupHold how long a group snapshot may hold back its volumes' writes while it takes them */
    public LocalVolumeStore(Path stateDir, String nodeId, BackingRoots roots, Duration groupHold) throws IOException {
        this.nodeId = nodeId;
        this.groupHold = groupHold;
        this.roots = roots;
        java.nio.file.Files.createDirectories(stateDir);
        this.lockChannel = FileChannel.open(stateDir.resolve("lock"), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE);
        FileLock l;
        try {
            l = lockChannel.tryLock();
        } catch (java.nio.channels.OverlappingFileLockException e) {
            l = null; // held by this very process
        }
        if (l == null) {
            lockChannel.close();
            throw new IOException("state directory " + stateDir + " is in use by another efuse-csi process");
        }
        this.lock = l;
        this.volumeFiles = new StateFiles(stateDir.resolve("volumes"));
        this.snapshotFiles = new StateFiles(stateDir.resolve("snapshots"));
        this.groupFiles = new StateFiles(stateDir.resolve("group-snapshots"));
        load();
    }

    private void load() throws IOException {
        try {
            loadRecords();
        } catch (VolumeException e) {
            throw new IOException("state directory holds records this driver cannot serve: " + e.getMessage(), e);
        }
    }

    private void loadRecords() throws IOException, VolumeException {
        java.util.Set<String> rolledBack = new java.util.HashSet<>();
        for (StateFiles.Entry e : groupFiles.readAll()) {
            GroupSnapshot g = json.readValue(e.content(), GroupSnapshot.class);
            if (g.readyToUse()) {
                groups.put(g.id(), g);
            } else {
                LOG.info("rolling back group snapshot {} that a restart interrupted", g.id());
                rolledBack.addAll(g.snapshotIds());
            }
        }
        for (StateFiles.Entry e : snapshotFiles.readAll()) {
            Snapshot s = json.readValue(e.content(), Snapshot.class);
            if (!s.readyToUse() || rolledBack.contains(s.id())) {
                LOG.info("rolling back snapshot " + s.id() + " that a restart interrupted");
                backing(s.backend()).deleteSnapshot(s.id());
                snapshotFiles.delete(s.id());
            } else {
                snapshots.put(s.id(), s);
            }
        }
        for (StateFiles.Entry e : groupFiles.readAll()) {
            if (!groups.containsKey(e.key())) {
                groupFiles.delete(e.key());
            }
        }
        java.util.Set<String> recorded = new java.util.HashSet<>();
        for (StateFiles.Entry e : volumeFiles.readAll()) {
            recorded.add(e.key());
        }
        removeOrphans(roots.local(), recorded);
        if (roots.shared() != null) {
            removeOrphans(roots.shared(), recorded);
        }
        for (StateFiles.Entry e : volumeFiles.readAll()) {
            Volume v = json.readValue(e.content(), Volume.class);
            if (v.state() == Volume.State.CREATING || v.state() == Volume.State.DELETING) {
                LOG.info("finishing " + v.state() + " of volume " + v.id() + " that a restart interrupted");
                backingFor(v).deleteVolume(v.id());
                volumeFiles.delete(v.id());
            } else {
                volumes.put(v.id(), v);
            }
        }
    }

    /** Volume directories with no record: creates or deletes that a crash cut short. */
    private static void removeOrphans(BackingStore store, java.util.Set<String> recorded)
            throws IOException, VolumeException {
        for (String id : store.volumeIds()) {
            if (!recorded.contains(id)) {
                LOG.info("removing volume directory {} that has no record (an interrupted create or delete)", id);
                store.deleteVolume(id);
            }
        }
    }

    @Override
    public Volume create(VolumeSpec spec) throws VolumeException {
        String id = spec.id();
        synchronized (lockFor(id)) {
            Volume existing = volumes.get(id);
            if (existing != null) {
                Optional<String> why = spec.incompatibility(existing);
                if (why.isPresent()) {
                    throw new VolumeException(VolumeException.Reason.ALREADY_EXISTS, why.get());
                }
                return existing;
            }
            String node = null;
            if (spec.backend() == Backend.LOCAL) {
                if (!spec.allowedNodes().isEmpty() && !spec.allowedNodes().contains(nodeId)) {
                    throw new VolumeException(VolumeException.Reason.RESOURCE_EXHAUSTED,
                            "this machine is node " + nodeId + ", which the requested topology excludes");
                }
                node = nodeId;
            }
            BackingStore store = backing(spec.backend());
            checkSource(spec);
            Volume v = new Volume(id, spec.name(), spec.capacityBytes(), spec.inodeLimit(), spec.backend(), node,
                    spec.source(), spec.parameters(), spec.mutableParameters(), Volume.State.CREATING, "",
                    System.currentTimeMillis());
            try {
                // the directory first, then its record: a crash in between leaves a directory without a
                // record, which the next start removes (one fsynced write per create instead of two)
                store.createVolume(id, v.limits(), spec.source(), EngineKind.requested(spec.parameters()));
                Volume ready = v.withState(Volume.State.READY, "");
                save(ready);
                volumes.put(id, ready);
                return ready;
            } catch (VolumeException e) {
                rollBack(store, id);
                throw e;
            } catch (IOException | RuntimeException e) {
                rollBack(store, id);
                throw new VolumeException(VolumeException.outOfSpace(e) ? VolumeException.Reason.RESOURCE_EXHAUSTED
                        : VolumeException.Reason.INTERNAL,
                        "create volume " + id + " ('" + spec.name() + "'): " + e.getMessage(), e);
            }
        }
    }

    /** Refuses a source that does not exist, is elsewhere, or is bigger than the new volume. */
    private void checkSource(VolumeSpec spec) throws VolumeException {
        ContentSource src = spec.source();
        if (src == null) {
            return;
        }
        if (src.kind() == ContentSource.Kind.SNAPSHOT) {
            Snapshot s = snapshots.get(src.id());
            if (s == null || !s.readyToUse()) {
                throw new VolumeException(VolumeException.Reason.NOT_FOUND, "source snapshot " + src.id()
                        + " does not exist");
            }
            if (s.backend() != spec.backend()) {
                throw new VolumeException(VolumeException.Reason.INVALID, "snapshot " + s.id() + " is on the "
                        + s.backend().label() + " backend, the new volume on " + spec.backend().label());
            }
            if (spec.capacityBytes() < s.sizeBytes()) {
                throw new VolumeException(VolumeException.Reason.OUT_OF_RANGE, "snapshot " + s.id() + " holds a "
                        + s.sizeBytes() + "-byte volume; the new volume must be at least that big");
            }
            return;
        }
        Volume source = volumes.get(src.id());
        if (source == null || !source.ready()) {
            throw new VolumeException(VolumeException.Reason.NOT_FOUND, "source volume " + src.id()
                    + " does not exist");
        }
        if (source.backend() != spec.backend()) {
            throw new VolumeException(VolumeException.Reason.INVALID, "volume " + source.id() + " is on the "
                    + source.backend().label() + " backend, the clone on " + spec.backend().label());
        }
        if (spec.capacityBytes() < source.capacityBytes()) {
            throw new VolumeException(VolumeException.Reason.OUT_OF_RANGE, "volume " + source.id() + " has "
                    + source.capacityBytes() + " bytes; its clone must be at least that big");
        }
    }

    private void rollBack(BackingStore store, String id) {
        try {
            store.deleteVolume(id);
            volumeFiles.delete(id);
        } catch (IOException | VolumeException e) {
            LOG.warn("rolling back volume " + id + ": " + e.getMessage());
        }
        volumes.remove(id);
    }

    @Override
    public Optional<Volume> volume(String id) {
        return Optional.ofNullable(volumes.get(id));
    }

    @Override
    public List<Volume> volumes() {
        List<Volume> all = new ArrayList<>(volumes.values());
        all.sort(Comparator.comparing(Volume::id));
        return all;
    }

    @Override
    public void delete(String id) throws VolumeException {
        synchronized (lockFor(id)) {
            Volume v = volumes.get(id);
            if (v == null) {
                return;
            }
            try {
                // the record first, then the directory: a crash in between leaves an orphan directory that the
                // next start removes
                volumeFiles.delete(id);
                volumes.remove(id);
                backingFor(v).deleteVolume(id);
            } catch (IOException e) {
                throw new VolumeException(VolumeException.Reason.INTERNAL, "delete volume " + id + ": "
                        + e.getMessage(), e);
            }
        }
    }

    @Override
    public Volume expand(String id, long bytes, long inodes) throws VolumeException {
        synchronized (lockFor(id)) {
            Volume v = require(id);
            if (bytes <= v.capacityBytes() && inodes <= v.inodeLimit()) {
                return v;
            }
            Volume grown = v.withCapacity(Math.max(bytes, v.capacityBytes()), Math.max(inodes, v.inodeLimit()));
            try {
                backingFor(v).resizeVolume(id, grown.limits());
                save(grown);
            } catch (IOException e) {
                throw new VolumeException(VolumeException.Reason.INTERNAL, "expand volume " + id + ": "
                        + e.getMessage(), e);
            }
            volumes.put(id, grown);
            return grown;
        }
    }

    @Override
    public Volume modify(String id, Map<String, String> mutableParameters) throws VolumeException {
        synchronized (lockFor(id)) {
            Volume v = require(id);
            Map<String, String> merged = new java.util.TreeMap<>(v.mutableParameters());
            merged.putAll(mutableParameters);
            Volume changed = v.withMutableParameters(merged);
            try {
                save(changed);
            } catch (IOException e) {
                throw new VolumeException(VolumeException.Reason.INTERNAL, "modify volume " + id + ": "
                        + e.getMessage(), e);
            }
            volumes.put(id, changed);
            return changed;
        }
    }

    @Override
    public Snapshot createSnapshot(String name, String sourceVolumeId) throws VolumeException {
        String id = VolumeIds.snapshotId(name);
        synchronized (lockFor(id)) {
            Snapshot existing = snapshots.get(id);
            if (existing != null) {
                if (!existing.sourceVolumeId().equals(sourceVolumeId)) {
                    throw new VolumeException(VolumeException.Reason.ALREADY_EXISTS, "snapshot '" + name
                            + "' exists for volume " + existing.sourceVolumeId());
                }
                return existing;
            }
            Volume v = volumes.get(sourceVolumeId);
            if (v == null || !v.ready()) {
                throw new VolumeException(VolumeException.Reason.NOT_FOUND, "volume " + sourceVolumeId
                        + " does not exist");
            }
            BackingStore store = backingFor(v);
            Snapshot s = new Snapshot(id, name, v.id(), v.capacityBytes(), v.backend(), v.node(),
                    System.currentTimeMillis(), false, "");
            try {
                saveSnapshot(s);
                store.createSnapshot(id, v.id());
                Snapshot ready = s.withReady(true, "");
                saveSnapshot(ready);
                snapshots.put(id, ready);
                return ready;
            } catch (IOException | RuntimeException e) {
                try {
                    store.deleteSnapshot(id);
                    snapshotFiles.delete(id);
                } catch (IOException cleanup) {
                    e.addSuppressed(cleanup);
                }
                // The copy was removed above, so the space it took is free again for whatever the caller does next.
                throw new VolumeException(VolumeException.outOfSpace(e) ? VolumeException.Reason.RESOURCE_EXHAUSTED
                        : VolumeException.Reason.INTERNAL, "snapshot " + id + " of volume " + v.id() + ": "
                        + e.getMessage(), e);
            }
        }
    }

    @Override
    public Optional<Snapshot> snapshot(String id) {
        return Optional.ofNullable(snapshots.get(id));
    }

    @Override
    public List<Snapshot> snapshots() {
        List<Snapshot> all = new ArrayList<>(snapshots.values());
        all.sort(Comparator.comparing(Snapshot::id));
        return all;
    }

    @Override
    public void deleteSnapshot(String id) throws VolumeException {
        Snapshot member = snapshots.get(id);
        if (member != null && member.inGroup()) {
            throw new VolumeException(VolumeException.Reason.INVALID, "snapshot " + id + " belongs to group snapshot "
                    + member.groupSnapshotId() + " and is deleted only with the whole group");
        }
        removeSnapshot(id);
    }

    private void removeSnapshot(String id) throws VolumeException {
        synchronized (lockFor(id)) {
            Snapshot s = snapshots.get(id);
            if (s == null) {
                return;
            }
            try {
                backing(s.backend()).deleteSnapshot(id);
                snapshotFiles.delete(id);
            } catch (IOException e) {
                throw new VolumeException(VolumeException.Reason.INTERNAL, "delete snapshot " + id + ": "
                        + e.getMessage(), e);
            }
            snapshots.remove(id);
        }
    }

    /**
     * Where this process serves staged volumes, whose writes a group snapshot holds back. Until it is given, group
     * snapshots are refused: a member served unseen could be written mid-cut.
     */
    public void servedBy(ServedVolumes served) {
        this.served = served;
    }

    @Override
    public boolean groupSnapshots() {
        return true;
    }

    @Override
    public GroupSnapshot createGroupSnapshot(String name, List<String> sourceVolumeIds) throws VolumeException {
        String id = VolumeIds.groupSnapshotId(name);
        List<String> sources = sourceVolumeIds.stream().sorted().distinct().toList();
        synchronized (lockFor(id)) {
            GroupSnapshot existing = groups.get(id);
            if (existing != null) {
                if (!existing.sourceVolumeIds().equals(sources)) {
                    throw new VolumeException(VolumeException.Reason.ALREADY_EXISTS, "group snapshot '" + name
                            + "' exists for volumes " + existing.sourceVolumeIds());
                }
                return existing;
            }
            ServedVolumes servedHere = served;
            if (servedHere == null) {
                throw new VolumeException(VolumeException.Reason.NOT_READY, "this process serves no volumes yet, so it"
                        + " cannot hold back their writes for a group snapshot");
            }
            List<GroupCut.Member> members = new ArrayList<>();
            Backend backend = null;
            for (String v : sources) {
                Volume vol = volumes.get(v);
                if (vol == null || !vol.ready()) {
                    throw new VolumeException(VolumeException.Reason.NOT_FOUND, "volume " + v + " does not exist");
                }
                if (vol.backend() != Backend.LOCAL) {
                    throw new VolumeException(VolumeException.Reason.IN_USE, "volume " + v + " is on the shared"
                            + " backend, which other nodes may write while this one takes the group; only node-local"
                            + " volumes can be snapshotted at one instant");
                }
                backend = vol.backend();
                members.add(new GroupCut.Member(v, VolumeIds.groupMemberId(id, v), backingFor(vol)));
            }
            long now = System.currentTimeMillis();
            GroupSnapshot g = new GroupSnapshot(id, name, sources,
                    members.stream().map(GroupCut.Member::snapshotId).toList(), backend, nodeId, now, false);
            List<Snapshot> taken = new ArrayList<>();
            try {
                saveGroup(g);
                for (GroupCut.Member m : members) {
                    Snapshot s = new Snapshot(m.snapshotId(), name + "/" + m.volumeId(), m.volumeId(),
                            volumes.get(m.volumeId()).capacityBytes(), backend, nodeId, now, false, "", id);
                    saveSnapshot(s);
                    taken.add(s);
                }
                GroupCut.take(members, servedHere, groupHold);
                for (Snapshot s : taken) {
                    Snapshot ready = s.withReady(true, "");
                    saveSnapshot(ready);
                    snapshots.put(ready.id(), ready);
                }
                GroupSnapshot ready = g.ready();
                saveGroup(ready);
                groups.put(id, ready);
                return ready;
            } catch (IOException | VolumeException | RuntimeException e) {
                for (Snapshot s : taken) {
                    snapshots.remove(s.id());
                    try {
                        backingFor(volumes.get(s.sourceVolumeId())).deleteSnapshot(s.id());
                        snapshotFiles.delete(s.id());
                    } catch (IOException | VolumeException cleanup) {
                        e.addSuppressed(cleanup);
                    }
                }
                try {
                    groupFiles.delete(id);
                } catch (IOException cleanup) {
                    e.addSuppressed(cleanup);
                }
                if (e instanceof VolumeException v) {
                    throw v;
                }
                throw new VolumeException(VolumeException.outOfSpace(e) ? VolumeException.Reason.RESOURCE_EXHAUSTED
                        : VolumeException.Reason.INTERNAL, "group snapshot " + id + ": " + e.getMessage(), e);
            }
        }
    }

    @Override
    public Optional<GroupSnapshot> groupSnapshot(String id) {
        return Optional.ofNullable(groups.get(id));
    }

    @Override
    public void deleteGroupSnapshot(String id) throws VolumeException {
        synchronized (lockFor(id)) {
            GroupSnapshot g = groups.get(id);
            if (g == null) {
                return;
            }
            for (String member : g.snapshotIds()) {
                removeSnapshot(member);
            }
            try {
                groupFiles.delete(id);
            } catch (IOException e) {
                throw new VolumeException(VolumeException.Reason.INTERNAL, "delete group snapshot " + id + ": "
                        + e.getMessage(), e);
            }
            groups.remove(id);
        }
    }

    @Override
    public long availableBytes(Backend backend, String node) throws VolumeException {
        if (backend == Backend.LOCAL && node != null && !node.equals(nodeId)) {
            return 0;
        }
        try {
            return backing(backend).availableBytes();
        } catch (IOException e) {
            throw new VolumeException(VolumeException.Reason.INTERNAL, "free space of the " + backend.label()
                    + " backing root: " + e.getMessage(), e);
        }
    }

    @Override
    public List<String> nodes() {
        return List.of(nodeId);
    }

    @Override
    public boolean ready() {
        return lock.isValid();
    }

    private BackingStore backingFor(Volume v) throws VolumeException {
        return roots.of(v.backend());
    }

    private BackingStore backing(Backend backend) throws VolumeException {
        return roots.of(backend);
    }

    private Volume require(String id) throws VolumeException {
        Volume v = volumes.get(id);
        if (v == null) {
            throw new VolumeException(VolumeException.Reason.NOT_FOUND, "volume " + id + " does not exist");
        }
        return v;
    }

    private Object lockFor(String id) {
        return idLocks.computeIfAbsent(id, k -> new Object());
    }

    private void save(Volume v) throws IOException {
        volumeFiles.write(v.id(), json.writeValueAsBytes(v));
    }

    private void saveGroup(GroupSnapshot g) throws IOException {
        groupFiles.write(g.id(), json.writeValueAsBytes(g));
    }

    private void saveSnapshot(Snapshot s) throws IOException {
        snapshotFiles.write(s.id(), json.writeValueAsBytes(s));
    }

    @Override
    public void close() {
        try {
            lock.release();
            lockChannel.close();
        } catch (IOException e) {
            LOG.warn("releasing the state directory lock: " + e.getMessage());
        }
    }
}
