package io.efuse.csi.kube;

import io.efuse.csi.volume.Backend;
import io.efuse.csi.volume.BackingRoots;
import io.efuse.csi.volume.BackingStore;
import io.efuse.csi.volume.ContentSource;
import io.efuse.csi.volume.EngineKind;
import io.efuse.csi.volume.GroupCut;
import io.efuse.csi.volume.Limits;
import io.efuse.csi.volume.ServedVolumes;
import io.efuse.csi.volume.LiveParameters;
import io.efuse.csi.volume.ModifiedSettings;
import io.efuse.csi.volume.VolumeException;
import io.efuse.csi.volume.VolumeIds;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes the data of the volumes and snapshots that one node owns (or the shared backend, with owner
 * {@value MetadataKeys#SHARED}) match their resources. An informer filtered by the owner label feeds a single worker,
 * so one owner's changes never race each other; every pass is idempotent, and a resync (or a restart, whose first
 * list is a full resync) reconciles everything again. Deletion is held by a finalizer until the data is gone.
 */
public final class NodeReconciler implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(NodeReconciler.class);

    /** How long a group snapshot may hold back its volumes' writes while it takes them. */
    private static final Duration GROUP_HOLD = Duration.ofMinutes(2);

    private final KubernetesClient client;
    private final String node;
    private final BackingRoots roots;
    private final ExecutorService worker;
    private final List<SharedIndexInformer<?>> informers = new ArrayList<>();
    /** The volumes this node serves, whose writes a group snapshot holds back; none until the node service is up. */
    private volatile ServedVolumes served;
    /** Where the mutable parameters of this node's volumes reach their sessions; none until the node service is up. */
    private volatile LiveParameters live;

    /** What one pass decided to write back; the caller applies it, so {@link #reconcile} has no API side effects. */
    record VolumeOutcome(EfuseVolumeStatus status, boolean releaseFinalizer) {}

    record SnapshotOutcome(EfuseSnapshotStatus status, boolean releaseFinalizer) {}

    /**
     * @param node the node this process runs on, or null to reconcile the shared backend
     */
    public NodeReconciler(KubernetesClient client, String node, BackingRoots roots, Duration resync) {
        this.client = client;
        this.node = node;
        this.roots = roots;
        this.worker = Executors.newSingleThreadExecutor(r -> Thread.ofPlatform().name("reconcile-"
                + MetadataKeys.nodeLabel(node)).daemon().unstarted(r));
        String owner = MetadataKeys.nodeLabel(node);
        informers.add(client.resources(EfuseSnapshot.class).withLabel(MetadataKeys.NODE, owner)
                .inform(handler(this::onSnapshot), resync.toMillis()));
        informers.add(client.resources(EfuseVolume.class).withLabel(MetadataKeys.NODE, owner)
                .inform(handler(this::onVolume), resync.toMillis()));
        if (node != null && roots.shared() != null) {
            // The controller reconciles the shared backend's data; any node may stage such a volume.
            informers.add(client.resources(EfuseVolume.class).withLabel(MetadataKeys.NODE, MetadataKeys.SHARED)
                    .inform(handler(this::onSharedVolume), resync.toMillis()));
        }
        if (node != null) {
            publishCapacity();
        }
    }

    /**
     * From now on, group snapshots of this node's volumes are taken, holding back the writes of the volumes that
     * {@code volumes} serves; until then they wait, since a member served unseen could be written mid-cut.
     */
    public void holdWritesThrough(ServedVolumes volumes) {
        this.served = volumes;
        for (EfuseSnapshot cr : client.resources(EfuseSnapshot.class)
                .withLabel(MetadataKeys.NODE, MetadataKeys.nodeLabel(node))
                .list().getItems()) {
            if (cr.getSpec().groupSnapshotId != null && !cr.getSpec().groupSnapshotId.isEmpty()) {
                enqueue(this::onSnapshot, cr.getMetadata().getName());
            }
        }
    }

    /**
     * From now on, every pass gives a staged volume's session its mutable parameters (they change with
     * ControllerModifyVolume) and reports in the status which of them wait for the next staging.
     */
    public void applyParametersTo(LiveParameters sessions) {
        this.live = sessions;
    }

    public boolean synced() {
        return informers.stream().allMatch(SharedIndexInformer::hasSynced);
    }

    private <T extends HasMetadata> ResourceEventHandler<T> handler(java.util.function.Consumer<String> work) {
        return new ResourceEventHandler<>() {
            @Override
            public void onAdd(T obj) {
                enqueue(work, obj.getMetadata().getName());
            }

            @Override
            public void onUpdate(T oldObj, T newObj) {
                enqueue(work, newObj.getMetadata().getName());
            }

            @Override
            public void onDelete(T obj, boolean deletedFinalStateUnknown) {
                // nothing left to do: data is reclaimed while the finalizer still holds the resource
            }
        };
    }

    private void enqueue(java.util.function.Consumer<String> work, String name) {
        if (!worker.isShutdown()) {
            worker.execute(() -> {
                try {
                    work.accept(name);
                } catch (RuntimeException e) {
                    LOG.warn("reconciling {}: {}", name, e.toString());
                }
            });
        }
    }

    private void onVolume(String name) {
        EfuseVolume cr = client.resources(EfuseVolume.class).withName(name).get();
        if (cr == null || !VolumeIds.isVolumeId(name)) {
            return;
        }
        VolumeOutcome out = reconcile(cr);
        apply(cr, out.status(), out.releaseFinalizer(), EfuseVolume.class);
        if (node != null && cr.getMetadata().getDeletionTimestamp() == null) {
            applyParameters(name);
        }
        if (node != null) {
            publishCapacity();
        }
    }

    /**
     * Gives a shared volume's session on this node, if it has one, the volume's mutable parameters. What waits is
     * not written to the status, which every node staging the volume would overwrite: NodeGetVolumeStats on the node
     * says it.
     */
    private void onSharedVolume(String name) {
        LiveParameters sessions = live;
        if (sessions == null) {
            return;
        }
        EfuseVolume cr = client.resources(EfuseVolume.class).withName(name).get();
        if (cr == null || !VolumeIds.isVolumeId(name) || cr.getStatus() == null
                || !EfuseVolumeStatus.READY.equals(cr.getStatus().phase)
                || cr.getMetadata().getDeletionTimestamp() != null) {
            return;
        }
        try {
            sessions.apply(KubeVolumeStore.toVolume(cr));
        } catch (IOException | VolumeException e) {
            LOG.warn("shared volume {}: giving its session on this node the new parameters: {}", name, e.getMessage());
        }
    }

    private void onSnapshot(String name) {
        EfuseSnapshot cr = client.resources(EfuseSnapshot.class).withName(name).get();
        if (cr == null || !VolumeIds.isSnapshotId(name)) {
            return;
        }
        String group = cr.getSpec().groupSnapshotId;
        if (group != null && !group.isEmpty() && cr.getMetadata().getDeletionTimestamp() == null) {
            takeGroup(group);
            return;
        }
        SnapshotOutcome out = reconcile(cr);
        apply(cr, out.status(), out.releaseFinalizer(), EfuseSnapshot.class);
    }

    /** Brings one volume's data in line with its resource. */
    VolumeOutcome reconcile(EfuseVolume cr) {
        String id = cr.getMetadata().getName();
        EfuseVolumeSpec spec = cr.getSpec();
        try {
            BackingStore store = roots.of(Backend.parse(spec.backend));
            if (cr.getMetadata().getDeletionTimestamp() != null) {
                store.deleteVolume(id);
                return new VolumeOutcome(null, true);
            }
            Limits limits = new Limits(spec.capacityBytes, spec.inodeLimit);
            EfuseVolumeStatus current = cr.getStatus();
            if (current != null && EfuseVolumeStatus.READY.equals(current.phase) && store.volumeExists(id)) {
                if (current.capacityBytes >= spec.capacityBytes && current.inodeLimit >= spec.inodeLimit) {
                    return new VolumeOutcome(null, false);
                }
                store.resizeVolume(id, limits);
                EfuseVolumeStatus resized = status(EfuseVolumeStatus.READY, limits, store, id, "resized");
                resized.waitingParameters = current.waitingParameters;
                return new VolumeOutcome(resized, false);
            }
            if (current != null && EfuseVolumeStatus.FAILED.equals(current.phase)) {
                return new VolumeOutcome(null, false); // the controller deletes it and nothing was left
            }
            store.createVolume(id, limits, source(spec), EngineKind.requested(
                    spec.parameters == null ? java.util.Map.of() : spec.parameters));
            return new VolumeOutcome(status(EfuseVolumeStatus.READY, limits, store, id, ""), false);
        } catch (IOException | VolumeException | RuntimeException e) {
            LOG.warn("volume {}: {}", id, e.toString());
            EfuseVolumeStatus failed = new EfuseVolumeStatus();
            failed.phase = EfuseVolumeStatus.FAILED;
            failed.message = e.getMessage();
            return new VolumeOutcome(failed, false);
        }
    }

    /**
     * Gives the volume's session on this node its recorded mutable parameters and writes what waits into the status
     * when that changed. Read again after the data pass, whose status it must not undo.
     */
    void applyParameters(String name) {
        LiveParameters sessions = live;
        if (sessions == null) {
            return;
        }
        EfuseVolume cr = client.resources(EfuseVolume.class).withName(name).get();
        if (cr == null || cr.getStatus() == null
                || !EfuseVolumeStatus.READY.equals(cr.getStatus().phase)) {
            return;
        }
        List<String> waiting;
        try {
            waiting = sessions.apply(KubeVolumeStore.toVolume(cr)).map(ModifiedSettings::waiting).orElse(List.of());
        } catch (IOException | VolumeException e) {
            LOG.warn("volume {}: giving its session the new parameters: {}", name, e.getMessage());
            return;
        }
        List<String> reported = cr.getStatus().waitingParameters == null ? List.of()
                : cr.getStatus().waitingParameters;
        if (reported.equals(waiting)) {
            return;
        }
        try {
            client.resources(EfuseVolume.class).withName(name).editStatus(c -> {
                if (c.getStatus() != null) {
                    c.getStatus().waitingParameters = waiting.isEmpty() ? null : waiting;
                }
                return c;
            });
        } catch (KubernetesClientException e) {
            if (e.getCode() != 404) {
                LOG.warn("updating EfuseVolume {}: {}", name, e.getMessage());
            }
        }
    }

    private static ContentSource source(EfuseVolumeSpec spec) {
        if (spec.sourceKind == null) {
            return null;
        }
        return new ContentSource("SNAPSHOT".equals(spec.sourceKind) ? ContentSource.Kind.SNAPSHOT
                : ContentSource.Kind.VOLUME, spec.sourceId);
    }

    private static EfuseVolumeStatus status(String phase, Limits limits, BackingStore store, String id,
                                            String message) {
        EfuseVolumeStatus s = new EfuseVolumeStatus();
        s.phase = phase;
        s.capacityBytes = limits.bytes();
        s.inodeLimit = limits.inodes();
        s.enforcement = store.engineOf(id).map(EngineKind::label).orElse("");
        s.message = message;
        return s;
    }

    /** Brings one snapshot's copy in line with its resource. */
    SnapshotOutcome reconcile(EfuseSnapshot cr) {
        String id = cr.getMetadata().getName();
        EfuseSnapshotSpec spec = cr.getSpec();
        try {
            BackingStore store = roots.of(Backend.parse(spec.backend));
            if (cr.getMetadata().getDeletionTimestamp() != null) {
                store.deleteSnapshot(id);
                return new SnapshotOutcome(null, true);
            }
            if (cr.getStatus() != null && (cr.getStatus().readyToUse || cr.getStatus().message != null)) {
                return new SnapshotOutcome(null, false);
            }
            store.createSnapshot(id, spec.sourceVolumeId);
            EfuseSnapshotStatus s = new EfuseSnapshotStatus();
            s.readyToUse = true;
            s.createdAtMillis = System.currentTimeMillis();
            return new SnapshotOutcome(s, false);
        } catch (IOException | VolumeException | RuntimeException e) {
            LOG.warn("snapshot {}: {}", id, e.toString());
            EfuseSnapshotStatus s = new EfuseSnapshotStatus();
            s.readyToUse = false;
            s.message = e.getMessage();
            return new SnapshotOutcome(s, false);
        }
    }

    /**
     * Takes a group snapshot's members together, once all of them exist and none is taken yet. What a pass that a
     * restart cut short left of them is removed first: members of one instant are never completed at another.
     */
    void takeGroup(String groupId) {
        List<EfuseSnapshot> members = client.resources(EfuseSnapshot.class)
                .withLabel(MetadataKeys.GROUP_SNAPSHOT, groupId)
                .list().getItems().stream().filter(cr -> cr.getMetadata().getDeletionTimestamp() == null)
                .sorted(java.util.Comparator.comparing(cr -> cr.getSpec().sourceVolumeId)).toList();
        if (members.isEmpty() || members.size() < members.get(0).getSpec().groupSourceVolumeIds.size()) {
            return; // the others are still being created; their events bring the group back here
        }
        if (members.stream().anyMatch(cr -> cr.getStatus() != null
                && (cr.getStatus().readyToUse || cr.getStatus().message != null))) {
            return; // taken (or failed) already
        }
        ServedVolumes volumes = served;
        if (volumes == null) {
            return; // holdWritesThrough brings it back
        }
        EfuseSnapshotStatus outcome = new EfuseSnapshotStatus();
        try {
            List<GroupCut.Member> cut = new ArrayList<>();
            for (EfuseSnapshot cr : members) {
                BackingStore store = roots.of(Backend.parse(cr.getSpec().backend));
                store.deleteSnapshot(cr.getMetadata().getName());
                cut.add(new GroupCut.Member(cr.getSpec().sourceVolumeId, cr.getMetadata().getName(), store));
            }
            try {
                GroupCut.take(cut, volumes, GROUP_HOLD);
            } catch (IOException | VolumeException | RuntimeException e) {
                for (GroupCut.Member m : cut) {
                    m.store().deleteSnapshot(m.snapshotId());
                }
                throw e;
            }
            outcome.readyToUse = true;
            outcome.createdAtMillis = System.currentTimeMillis();
        } catch (IOException | VolumeException | RuntimeException e) {
            LOG.warn("group snapshot {}: {}", groupId, e.toString());
            outcome.readyToUse = false;
            outcome.message = e.getMessage();
            outcome.reason = e instanceof VolumeException v ? v.reason().name() : VolumeException.Reason.INTERNAL.name();
        }
        for (EfuseSnapshot cr : members) {
            apply(cr, outcome, false, EfuseSnapshot.class);
        }
    }

    private <T extends io.fabric8.kubernetes.client.CustomResource<?, S>, S> void apply(T cr, S status,
                                                                                      boolean releaseFinalizer,
                                                                                      Class<T> type) {
        String name = cr.getMetadata().getName();
        try {
            if (status != null) {
                client.resources(type).withName(name).editStatus(c -> {
                    c.setStatus(status);
                    return c;
                });
            }
            if (releaseFinalizer) {
                client.resources(type).withName(name).edit(c -> {
                    c.getMetadata().getFinalizers().remove(MetadataKeys.DATA_FINALIZER);
                    return c;
                });
            }
        } catch (KubernetesClientException e) {
            if (e.getCode() != 404) {
                LOG.warn("updating {} {}: {}", type.getSimpleName(), name, e.getMessage());
            }
        }
    }

    /** Tells the controller how much room this node has for new volumes (GetCapacity). */
    private void publishCapacity() {
        try {
            long free = roots.local().availableBytes();
            if (client.nodes().withName(node).get() == null) {
                return;
            }
            client.nodes().withName(node).edit(n -> {
                if (n.getMetadata().getAnnotations() == null) {
                    n.getMetadata().setAnnotations(new java.util.HashMap<>());
                }
                n.getMetadata().getAnnotations().put(MetadataKeys.AVAILABLE_BYTES, Long.toString(free));
                return n;
            });
        } catch (IOException | KubernetesClientException e) {
            LOG.debug("publishing the free space of node {}: {}", node, e.toString());
        }
    }

    /** Waits until every event seen so far has been handled (for tests and orderly shutdown). */
    public boolean drain(Duration bound) throws InterruptedException {
        java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(1);
        worker.execute(done::countDown);
        return done.await(bound.toMillis(), TimeUnit.MILLISECONDS);
    }

    @Override
    public void close() {
        informers.forEach(SharedIndexInformer::close);
        worker.shutdown();
        try {
            if (!worker.awaitTermination(10, TimeUnit.SECONDS)) {
                worker.shutdownNow();
            }
        } catch (InterruptedException e) {
            worker.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }

}
