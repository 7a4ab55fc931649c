package io.efuse.csi.kube;

import io.efuse.csi.volume.Backend;
import io.efuse.csi.volume.ContentSource;
import io.efuse.csi.volume.GroupSnapshot;
import io.efuse.csi.volume.LiveParameters;
import io.efuse.csi.volume.ModifiedSettings;
import io.efuse.csi.volume.Snapshot;
import io.efuse.csi.volume.Volume;
import io.efuse.csi.volume.VolumeException;
import io.efuse.csi.volume.VolumeIds;
import io.efuse.csi.volume.VolumeSpec;
import io.efuse.csi.volume.VolumeStore;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.storage.CSINode;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.KubernetesClientTimeoutException;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.fabric8.kubernetes.client.informers.cache.Cache;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * Volume state in the cluster: one {@link EfuseVolume} / {@link EfuseSnapshot} per volume and snapshot. Writes go
 * to the API server; the controller then waits, with a bound, for the owning reconciler to report the result.
 * A wait that runs out is UNAVAILABLE to the caller, and the next identical call resumes it: a controller that
 * restarts half-way finds the resource it had written. Reads come from informer caches.
 */
public final class KubeVolumeStore implements VolumeStore, LiveParameters {
    private static final Duration WATCH_SLICE = Duration.ofSeconds(2);

    private final KubernetesClient client;
    private final String driverName;
    private final Duration bound;
    private final SharedIndexInformer<EfuseVolume> volumeInformer;
    private final SharedIndexInformer<EfuseSnapshot> snapshotInformer;

    public KubeVolumeStore(KubernetesClient client, String driverName, Duration bound) {
        this.client = client;
        this.driverName = driverName;
        this.bound = bound;
        this.volumeInformer = client.resources(EfuseVolume.class).inform();
        this.snapshotInformer = client.resources(EfuseSnapshot.class).inform();
    }

    @Override
    public Volume create(VolumeSpec spec) throws VolumeException {
        String id = spec.id();
        EfuseVolume existing = client.resources(EfuseVolume.class).withName(id).get();
        if (existing != null) {
            Volume v = toVolume(existing);
            Optional<String> why = spec.incompatibility(v);
            if (why.isPresent()) {
                throw new VolumeException(VolumeException.Reason.ALREADY_EXISTS, why.get());
            }
            return awaitReady(id);
        }
        String node = spec.backend() == Backend.LOCAL ? chooseNode(spec) : null;
        EfuseVolume cr = new EfuseVolume();
        cr.setMetadata(new ObjectMetaBuilder().withName(id)
                .addToLabels(MetadataKeys.NODE, MetadataKeys.nodeLabel(node))
                .addToFinalizers(MetadataKeys.DATA_FINALIZER).build());
        EfuseVolumeSpec s = new EfuseVolumeSpec();
        s.name = spec.name();
        s.capacityBytes = spec.capacityBytes();
        s.inodeLimit = spec.inodeLimit();
        s.backend = spec.backend().label();
        s.nodeName = node;
        if (spec.source() != null) {
            s.sourceKind = spec.source().kind().name();
            s.sourceId = spec.source().id();
        }
        s.parameters = new TreeMap<>(spec.parameters());
        s.mutableParameters = new TreeMap<>(spec.mutableParameters());
        cr.setSpec(s);
        try {
            client.resources(EfuseVolume.class).resource(cr).create();
        } catch (KubernetesClientException e) {
            if (e.getCode() != 409) {
                throw unavailable("create EfuseVolume " + id, e);
            }
            // another controller call created it first: wait for it like for ours
        }
        return awaitReady(id);
    }

    /** A local volume goes to the first preferred node the requirements allow, else the first allowed one. */
    private String chooseNode(VolumeSpec spec) throws VolumeException {
        String fromSource = sourceNode(spec.source());
        if (fromSource != null) {
            if (!spec.allowedNodes().isEmpty() && !spec.allowedNodes().contains(fromSource)) {
                throw new VolumeException(VolumeException.Reason.RESOURCE_EXHAUSTED, "the content source lives on "
                        + "node " + fromSource + ", which the requested topology excludes");
            }
            return fromSource;
        }
        for (String n : spec.preferredNodes()) {
            if (spec.allowedNodes().isEmpty() || spec.allowedNodes().contains(n)) {
                return n;
            }
        }
        if (!spec.allowedNodes().isEmpty()) {
            return spec.allowedNodes().get(0);
        }
        List<String> nodes = nodes();
        if (nodes.size() == 1) {
            return nodes.get(0);
        }
        throw new VolumeException(VolumeException.Reason.RESOURCE_EXHAUSTED, "a local volume needs a node and the "
                + "request names none; use a StorageClass with volumeBindingMode WaitForFirstConsumer");
    }

    private String sourceNode(ContentSource source) throws VolumeException {
        if (source == null) {
            return null;
        }
        if (source.kind() == ContentSource.Kind.SNAPSHOT) {
            Snapshot s = snapshot(source.id()).filter(Snapshot::readyToUse).orElseThrow(() -> new VolumeException(
                    VolumeException.Reason.NOT_FOUND, "source snapshot " + source.id() + " does not exist"));
            return s.node();
        }
        Volume v = volume(source.id()).filter(Volume::ready).orElseThrow(() -> new VolumeException(
                VolumeException.Reason.NOT_FOUND, "source volume " + source.id() + " does not exist"));
        return v.node();
    }

    private Volume awaitReady(String id) throws VolumeException {
        EfuseVolume cr = await(EfuseVolume.class, id, v -> v == null || (v.getStatus() != null
                && (EfuseVolumeStatus.READY.equals(v.getStatus().phase)
                || EfuseVolumeStatus.FAILED.equals(v.getStatus().phase))), "to be made by its node");
        if (cr == null) {
            throw new VolumeException(VolumeException.Reason.NOT_READY, "volume " + id + " was deleted while "
                    + "being created");
        }
        if (EfuseVolumeStatus.FAILED.equals(cr.getStatus().phase)) {
            String why = cr.getStatus().message;
            // leave nothing half-made: the node reclaims whatever it made once the resource goes
            client.resources(EfuseVolume.class).withName(id).delete();
            throw new VolumeException(VolumeException.Reason.INTERNAL, "node " + cr.getSpec().nodeName
                    + " could not make volume " + id + ": " + why);
        }
        return toVolume(cr);
    }

    /**
     * Waits in slices, reading the resource afresh after each one: a watch can lose the one event that matters
     * (a deletion between its list and its watch, a dropped connection), and the wait must not then last its
     * whole bound.
     */
    private <T extends io.fabric8.kubernetes.client.CustomResource<?, ?>> T await(Class<T> type, String name,
                                                                                Predicate<T> done, String what)
            throws VolumeException {
        long deadline = System.nanoTime() + bound.toNanos();
        try {
            while (true) {
                long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
                try {
                    return client.resources(type).withName(name).waitUntilCondition(done::test,
                            Math.max(1, Math.min(left, WATCH_SLICE.toMillis())), TimeUnit.MILLISECONDS);
                } catch (KubernetesClientTimeoutException e) {
                    T now = client.resources(type).withName(name).get();
                    if (done.test(now)) {
                        return now;
                    }
                    if (System.nanoTime() - deadline >= 0) {
                        throw new VolumeException(VolumeException.Reason.NOT_READY, type.getSimpleName() + " "
                                + name + " did not get " + what + " within " + bound.toSeconds()
                                + " s; the call can be repeated");
                    }
                }
            }
        } catch (KubernetesClientException e) {
            throw unavailable("wait for " + type.getSimpleName() + " " + name, e);
        }
    }

    @Override
    public Optional<Volume> volume(String id) {
        if (!VolumeIds.isVolumeId(id)) {
            return Optional.empty();
        }
        EfuseVolume cr = volumeInformer.getStore().getByKey(Cache.namespaceKeyFunc(null, id));
        return Optional.ofNullable(cr).map(KubeVolumeStore::toVolume);
    }

    /**
     * Nothing to apply here: the node of a local volume sees the new parameters in its resource and gives them to
     * the session ({@link NodeReconciler}).
     */
    @Override
    public Optional<ModifiedSettings> apply(Volume v) {
        return Optional.empty();
    }

    /** What the volume's node last reported, in the resource's status. */
    @Override
    public List<String> waiting(String volumeId) {
        if (!VolumeIds.isVolumeId(volumeId)) {
            return List.of();
        }
        EfuseVolume cr = volumeInformer.getStore().getByKey(Cache.namespaceKeyFunc(null, volumeId));
        if (cr == null || cr.getStatus() == null || cr.getStatus().waitingParameters == null) {
            return List.of();
        }
        return List.copyOf(cr.getStatus().waitingParameters);
    }

    @Override
    public List<Volume> volumes() {
        List<Volume> all = new ArrayList<>();
        for (EfuseVolume cr : volumeInformer.getStore().list()) {
            all.add(toVolume(cr));
        }
        all.sort(Comparator.comparing(Volume::id));
        return all;
    }

    @Override
    public void delete(String id) throws VolumeException {
        try {
            client.resources(EfuseVolume.class).withName(id).delete();
        } catch (KubernetesClientException e) {
            throw unavailable("delete EfuseVolume " + id, e);
        }
        await(EfuseVolume.class, id, Objects::isNull, "its data reclaimed by its node");
    }

    @Override
    public Volume expand(String id, long bytes, long inodes) throws VolumeException {
        EfuseVolume cr = require(id);
        if (bytes > cr.getSpec().capacityBytes || inodes > cr.getSpec().inodeLimit) {
            long b = Math.max(bytes, cr.getSpec().capacityBytes);
            long i = Math.max(inodes, cr.getSpec().inodeLimit);
            client.resources(EfuseVolume.class).withName(id).edit(v -> {
                v.getSpec().capacityBytes = Math.max(b, v.getSpec().capacityBytes);
                v.getSpec().inodeLimit = Math.max(i, v.getSpec().inodeLimit);
                return v;
            });
        }
        EfuseVolume grown = await(EfuseVolume.class, id, v -> v == null || (v.getStatus() != null
                && v.getStatus().capacityBytes >= bytes), "its new size from its node");
        if (grown == null) {
            throw new VolumeException(VolumeException.Reason.NOT_FOUND, "volume " + id + " was deleted");
        }
        return toVolume(grown);
    }

    @Override
    public Volume modify(String id, Map<String, String> mutableParameters) throws VolumeException {
        require(id);
        EfuseVolume cr = client.resources(EfuseVolume.class).withName(id).edit(v -> {
            Map<String, String> m = new TreeMap<>(v.getSpec().mutableParameters == null ? Map.of()
                    : v.getSpec().mutableParameters);
            m.putAll(mutableParameters);
            v.getSpec().mutableParameters = m;
            return v;
        });
        return toVolume(cr);
    }

    @Override
    public Snapshot createSnapshot(String name, String sourceVolumeId) throws VolumeException {
        String id = VolumeIds.snapshotId(name);
        EfuseSnapshot existing = client.resources(EfuseSnapshot.class).withName(id).get();
        if (existing != null) {
            if (!existing.getSpec().sourceVolumeId.equals(sourceVolumeId)) {
                throw new VolumeException(VolumeException.Reason.ALREADY_EXISTS, "snapshot '" + name
                        + "' exists for volume " + existing.getSpec().sourceVolumeId);
            }
            return awaitSnapshot(id);
        }
        Volume v = volume(sourceVolumeId).filter(Volume::ready).orElseThrow(() -> new VolumeException(
                VolumeException.Reason.NOT_FOUND, "volume " + sourceVolumeId + " does not exist"));
        EfuseSnapshot cr = new EfuseSnapshot();
        cr.setMetadata(new ObjectMetaBuilder().withName(id)
                .addToLabels(MetadataKeys.NODE, MetadataKeys.nodeLabel(v.node()))
                .addToFinalizers(MetadataKeys.DATA_FINALIZER).build());
        EfuseSnapshotSpec s = new EfuseSnapshotSpec();
        s.name = name;
        s.sourceVolumeId = v.id();
        s.backend = v.backend().label();
        s.nodeName = v.node();
        s.sizeBytes = v.capacityBytes();
        cr.setSpec(s);
        try {
            client.resources(EfuseSnapshot.class).resource(cr).create();
        } catch (KubernetesClientException e) {
            if (e.getCode() != 409) {
                throw unavailable("create EfuseSnapshot " + id, e);
            }
        }
        return awaitSnapshot(id);
    }

    private Snapshot awaitSnapshot(String id) throws VolumeException {
        EfuseSnapshot cr = await(EfuseSnapshot.class, id, s -> s == null || (s.getStatus() != null
                && (s.getStatus().readyToUse || s.getStatus().message != null)), "its copy made");
        if (cr == null) {
            throw new VolumeException(VolumeException.Reason.NOT_READY, "snapshot " + id + " was deleted");
        }
        if (!cr.getStatus().readyToUse) {
            client.resources(EfuseSnapshot.class).withName(id).delete();
            throw new VolumeException(VolumeException.Reason.INTERNAL, "snapshot " + id + " failed on node "
                    + cr.getSpec().nodeName + ": " + cr.getStatus().message);
        }
        return toSnapshot(cr);
    }

    @Override
    public Optional<Snapshot> snapshot(String id) {
        if (!VolumeIds.isSnapshotId(id)) {
            return Optional.empty();
        }
        EfuseSnapshot cr = snapshotInformer.getStore().getByKey(Cache.namespaceKeyFunc(null, id));
        return Optional.ofNullable(cr).map(KubeVolumeStore::toSnapshot);
    }

    @Override
    public List<Snapshot> snapshots() {
        List<Snapshot> all = new ArrayList<>();
        for (EfuseSnapshot cr : snapshotInformer.getStore().list()) {
            all.add(toSnapshot(cr));
        }
        all.sort(Comparator.comparing(Snapshot::id));
        return all;
    }

    @Override
    public void deleteSnapshot(String id) throws VolumeException {
        Optional<Snapshot> member = snapshot(id).filter(Snapshot::inGroup);
        if (member.isPresent()) {
            throw new VolumeException(VolumeException.Reason.INVALID, "snapshot " + id + " belongs to group snapshot "
                    + member.get().groupSnapshotId() + " and is deleted only with the whole group");
        }
        try {
            client.resources(EfuseSnapshot.class).withName(id).delete();
        } catch (KubernetesClientException e) {
            throw unavailable("delete EfuseSnapshot " + id, e);
        }
        await(EfuseSnapshot.class, id, Objects::isNull, "its copy reclaimed by its node");
    }

    @Override
    public boolean groupSnapshots() {
        return true;
    }

    /**
     * One EfuseSnapshot per member, all on the node that holds the volumes; that node's reconciler takes them
     * together once all exist (GroupCut) and marks them ready, or failed, together.
     */
    @Override
    public GroupSnapshot createGroupSnapshot(String name, List<String> sourceVolumeIds) throws VolumeException {
        String id = VolumeIds.groupSnapshotId(name);
        List<String> sources = sourceVolumeIds.stream().sorted().distinct().toList();
        List<EfuseSnapshot> existing = members(id);
        if (!existing.isEmpty()) {
            List<String> had = existing.get(0).getSpec().groupSourceVolumeIds;
            if (!sources.equals(had)) {
                throw new VolumeException(VolumeException.Reason.ALREADY_EXISTS, "group snapshot '" + name
                        + "' exists for volumes " + had);
            }
        } else {
            String node = null;
            for (String v : sources) {
                Volume vol = volume(v).filter(Volume::ready).orElseThrow(() -> new VolumeException(
                        VolumeException.Reason.NOT_FOUND, "volume " + v + " does not exist"));
                if (vol.backend() != Backend.LOCAL) {
                    throw new VolumeException(VolumeException.Reason.IN_USE, "volume " + v + " is on the shared"
                            + " backend, which several nodes may write at once; only node-local volumes can be"
                            + " snapshotted at one instant");
                }
                if (node != null && !node.equals(vol.node())) {
                    throw new VolumeException(VolumeException.Reason.IN_USE, "volumes " + sources.get(0) + " and " + v
                            + " live on different nodes (" + node + ", " + vol.node() + "); a group snapshot holds"
                            + " back the writes of its volumes on one node, so its volumes must share a node");
                }
                node = vol.node();
            }
            for (String v : sources) {
                Volume vol = volume(v).orElseThrow();
                String memberId = VolumeIds.groupMemberId(id, v);
                EfuseSnapshot cr = new EfuseSnapshot();
                cr.setMetadata(new ObjectMetaBuilder().withName(memberId)
                        .addToLabels(MetadataKeys.NODE, MetadataKeys.nodeLabel(vol.node()))
                        .addToLabels(MetadataKeys.GROUP_SNAPSHOT, id)
                        .addToFinalizers(MetadataKeys.DATA_FINALIZER).build());
                EfuseSnapshotSpec s = new EfuseSnapshotSpec();
                s.name = name + "/" + v;
                s.sourceVolumeId = v;
                s.backend = vol.backend().label();
                s.nodeName = vol.node();
                s.sizeBytes = vol.capacityBytes();
                s.groupSnapshotId = id;
                s.groupName = name;
                s.groupSourceVolumeIds = sources;
                cr.setSpec(s);
                try {
                    client.resources(EfuseSnapshot.class).resource(cr).create();
                } catch (KubernetesClientException e) {
                    if (e.getCode() != 409) {
                        throw unavailable("create EfuseSnapshot " + memberId, e);
                    }
                }
            }
        }
        List<EfuseSnapshot> taken = new ArrayList<>();
        for (String v : sources) {
            String memberId = VolumeIds.groupMemberId(id, v);
            EfuseSnapshot cr = await(EfuseSnapshot.class, memberId, s -> s == null || (s.getStatus() != null
                    && (s.getStatus().readyToUse || s.getStatus().message != null)), "taken with its group");
            if (cr == null || !cr.getStatus().readyToUse) {
                String why = cr == null ? "a member was deleted" : cr.getStatus().message;
                VolumeException.Reason reason = cr == null || cr.getStatus().reason == null
                        ? VolumeException.Reason.INTERNAL : VolumeException.Reason.valueOf(cr.getStatus().reason);
                deleteMembers(id);
                throw new VolumeException(reason, "group snapshot " + id + " failed on its node: " + why);
            }
            taken.add(cr);
        }
        // from the resources as awaited: the informer's cache may not have their status yet
        return toGroup(id, taken);
    }

    @Override
    public Optional<GroupSnapshot> groupSnapshot(String id) {
        if (!VolumeIds.isGroupSnapshotId(id)) {
            return Optional.empty();
        }
        List<EfuseSnapshot> crs = snapshotInformer.getStore().list().stream()
                .filter(cr -> id.equals(cr.getSpec().groupSnapshotId)).toList();
        return crs.isEmpty() ? Optional.empty() : Optional.of(toGroup(id, crs));
    }

    /** A group snapshot from the resources of its members (at least one). */
    private static GroupSnapshot toGroup(String id, List<EfuseSnapshot> crs) {
        EfuseSnapshotSpec first = crs.get(0).getSpec();
        List<String> sources = first.groupSourceVolumeIds;
        List<String> members = sources.stream().map(v -> VolumeIds.groupMemberId(id, v)).toList();
        boolean ready = crs.size() == sources.size() && crs.stream().map(KubeVolumeStore::toSnapshot)
                .allMatch(Snapshot::readyToUse);
        long created = crs.stream().mapToLong(cr -> cr.getStatus() == null ? 0 : cr.getStatus().createdAtMillis)
                .max().orElse(0);
        return new GroupSnapshot(id, first.groupName, sources, members, Backend.parse(first.backend), first.nodeName,
                created, ready);
    }

    @Override
    public void deleteGroupSnapshot(String id) throws VolumeException {
        if (VolumeIds.isGroupSnapshotId(id)) {
            deleteMembers(id);
        }
    }

    private List<EfuseSnapshot> members(String groupId) throws VolumeException {
        try {
            return client.resources(EfuseSnapshot.class).withLabel(MetadataKeys.GROUP_SNAPSHOT, groupId).list()
                    .getItems();
        } catch (KubernetesClientException e) {
            throw unavailable("list the members of group snapshot " + groupId, e);
        }
    }

    private void deleteMembers(String groupId) throws VolumeException {
        for (EfuseSnapshot cr : members(groupId)) {
            String name = cr.getMetadata().getName();
            try {
                client.resources(EfuseSnapshot.class).withName(name).delete();
            } catch (KubernetesClientException e) {
                throw unavailable("delete EfuseSnapshot " + name, e);
            }
            await(EfuseSnapshot.class, name, Objects::isNull, "its copy reclaimed by its node");
        }
    }

    @Override
    public long availableBytes(Backend backend, String node) throws VolumeException {
        String name = backend == Backend.SHARED ? null : node;
        if (name == null) {
            return 0; // the shared root's free space is reported by nobody yet; capacity tracking ignores it
        }
        Node n = client.nodes().withName(name).get();
        if (n == null || n.getMetadata().getAnnotations() == null) {
            return 0;
        }
        String v = n.getMetadata().getAnnotations().get(MetadataKeys.AVAILABLE_BYTES);
        try {
            return v == null ? 0 : Long.parseLong(v);
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    /** Nodes whose CSINode lists this driver: the node plugin runs there. */
    @Override
    public List<String> nodes() {
        List<String> out = new ArrayList<>();
        for (CSINode n : client.storage().v1().csiNodes().list().getItems()) {
            if (n.getSpec() != null && n.getSpec().getDrivers() != null
                    && n.getSpec().getDrivers().stream().anyMatch(d -> driverName.equals(d.getName()))) {
                out.add(n.getMetadata().getName());
            }
        }
        out.sort(null);
        return out;
    }

    @Override
    public boolean ready() {
        return volumeInformer.hasSynced() && snapshotInformer.hasSynced();
    }

    @Override
    public void close() {
        volumeInformer.close();
        snapshotInformer.close();
    }

    private EfuseVolume require(String id) throws VolumeException {
        EfuseVolume cr = client.resources(EfuseVolume.class).withName(id).get();
        if (cr == null) {
            throw new VolumeException(VolumeException.Reason.NOT_FOUND, "volume " + id + " does not exist");
        }
        return cr;
    }

    private static VolumeException unavailable(String what, KubernetesClientException e) {
        return new VolumeException(VolumeException.Reason.NOT_READY, what + ": " + e.getMessage(), e);
    }

    static Volume toVolume(EfuseVolume cr) {
        EfuseVolumeSpec s = cr.getSpec();
        EfuseVolumeStatus st = cr.getStatus();
        Volume.State state;
        if (cr.getMetadata().getDeletionTimestamp() != null) {
            state = Volume.State.DELETING;
        } else if (st == null || st.phase == null || EfuseVolumeStatus.PENDING.equals(st.phase)) {
            state = Volume.State.CREATING;
        } else if (EfuseVolumeStatus.READY.equals(st.phase)) {
            state = Volume.State.READY;
        } else {
            state = Volume.State.FAILED;
        }
        // the size in force is what the node applied; before that, what was asked for
        long capacity = st != null && st.capacityBytes > 0 ? st.capacityBytes : s.capacityBytes;
        long inodes = st != null && st.inodeLimit > 0 ? st.inodeLimit : s.inodeLimit;
        ContentSource source = s.sourceKind == null ? null
                : new ContentSource(ContentSource.Kind.valueOf(s.sourceKind), s.sourceId);
        long created = cr.getMetadata().getCreationTimestamp() == null ? 0
                : java.time.Instant.parse(cr.getMetadata().getCreationTimestamp()).toEpochMilli();
        return new Volume(cr.getMetadata().getName(), s.name, capacity, inodes, Backend.parse(s.backend),
                s.nodeName == null || s.nodeName.isEmpty() ? null : s.nodeName, source, s.parameters,
                s.mutableParameters, state, st == null || st.message == null ? "" : st.message, created);
    }

    static Snapshot toSnapshot(EfuseSnapshot cr) {
        EfuseSnapshotSpec s = cr.getSpec();
        EfuseSnapshotStatus st = cr.getStatus();
        boolean ready = st != null && st.readyToUse && cr.getMetadata().getDeletionTimestamp() == null;
        return new Snapshot(cr.getMetadata().getName(), s.name, s.sourceVolumeId, s.sizeBytes,
                Backend.parse(s.backend), s.nodeName, st == null ? 0 : st.createdAtMillis, ready,
                st == null || st.message == null ? "" : st.message, s.groupSnapshotId);
    }
}
