package io.efuse.csi.kube;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.efuse.csi.testing.BoundedWait;
import io.efuse.csi.volume.Backend;
import io.efuse.csi.volume.BackingRoots;
import io.efuse.csi.volume.BackingStore;
import io.efuse.csi.volume.ContentSource;
import io.efuse.csi.volume.LiveParameters;
import io.efuse.csi.volume.ModifiedSettings;
import io.efuse.csi.volume.Snapshot;
import io.efuse.csi.volume.Volume;
import io.efuse.csi.volume.VolumeException;
import io.efuse.csi.volume.VolumeSpec;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The cluster store against fabric8's mock API server in CRUD mode: the controller side writes resources and
 * waits; the node reconciler makes the data, reports status and reclaims on deletion through its finalizer.
 */
@EnableKubernetesMockClient(crud = true)
class KubeVolumeStoreTest {
    static KubernetesClient client;

    @TempDir
    Path tmp;

    private BackingRoots roots;
    private final java.util.List<AutoCloseable> open = new java.util.ArrayList<>();

    @BeforeEach
    void setUp() throws IOException {
        roots = new BackingRoots(BackingStore.open(tmp.resolve("node-a")), null);
        client.nodes().resource(new NodeBuilder().withNewMetadata().withName("node-a").endMetadata().build())
                .create();
    }

    @AfterEach
    void tearDown() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
        client.resources(EfuseVolume.class).delete();
        client.resources(EfuseSnapshot.class).delete();
        client.nodes().withName("node-a").delete();
    }

    private <T extends AutoCloseable> T own(T t) {
        open.add(t);
        return t;
    }

    private NodeReconciler reconciler() {
        return own(new NodeReconciler(client, "node-a", roots, Duration.ofMinutes(5)));
    }

    private KubeVolumeStore store(Duration bound) {
        return own(new KubeVolumeStore(client, "efuse.csi.io", bound));
    }

    private static VolumeSpec spec(String name, long bytes, ContentSource source) {
        return new VolumeSpec(name, bytes, 0, bytes, 4096, Backend.LOCAL, List.of("node-a"), List.of("node-a"),
                source, Map.of(), Map.of());
    }

    /** Polls rather than watches: the mock server loses a deletion that falls between a watch's list and its start. */
    private static void awaitGone(String id, Duration bound) throws Exception {
        BoundedWait.upTo(bound).every(Duration.ofMillis(50)).until("volume " + id + " to be gone",
                () -> client.resources(EfuseVolume.class).withName(id).get() == null);
    }

    @Test
    void createReconcileExpandSnapshotRestoreAndDelete() throws Exception {
        reconciler();
        KubeVolumeStore store = store(Duration.ofSeconds(20));
        Volume v = store.create(spec("pvc-1", 1 << 20, null));
        assertTrue(v.ready());
        assertEquals("node-a", v.node());
        Path dir = roots.local().volumeDir(v.id());
        assertTrue(Files.isDirectory(dir), "the node made the backing directory");
        EfuseVolume cr = client.resources(EfuseVolume.class).withName(v.id()).get();
        assertTrue(cr.getMetadata().getFinalizers().contains(MetadataKeys.DATA_FINALIZER));
        assertEquals("node-a", cr.getMetadata().getLabels().get(MetadataKeys.NODE));
        assertEquals(v, store.create(spec("pvc-1", 1 << 20, null)), "create is idempotent by name");
        VolumeException conflict = assertThrows(VolumeException.class,
                () -> store.create(spec("pvc-1", 2 << 20, null)));
        assertEquals(VolumeException.Reason.ALREADY_EXISTS, conflict.reason());

        assertEquals(4 << 20, store.expand(v.id(), 4 << 20, 4096).capacityBytes());

        Files.writeString(dir.resolve("data"), "in the snapshot");
        Snapshot s = store.createSnapshot("snap", v.id());
        assertTrue(s.readyToUse());
        assertEquals(s, store.createSnapshot("snap", v.id()));
        Volume restored = store.create(spec("pvc-2", 4 << 20, new ContentSource(ContentSource.Kind.SNAPSHOT,
                s.id())));
        assertEquals("in the snapshot", Files.readString(roots.local().volumeDir(restored.id()).resolve("data")));

        store.deleteSnapshot(s.id());
        assertFalse(roots.local().snapshotExists(s.id()));
        store.delete(v.id());
        assertNull(client.resources(EfuseVolume.class).withName(v.id()).get());
        assertFalse(Files.exists(dir), "the node reclaimed the data before the finalizer let the resource go");
        store.delete(v.id());
    }

    /** A node that serves none of its volumes now: nothing writes them, so a group needs no hold. */
    private static final io.efuse.csi.volume.ServedVolumes NOTHING_SERVED = id -> new io.efuse.csi.volume.ServedVolumes.Claim() {
        @Override
        public java.util.Optional<io.efuse.csi.volume.MountedVolume> mount() {
            return java.util.Optional.empty();
        }

        @Override
        public void close() {}
    };

    @Test
    void aGroupSnapshotIsTakenByItsNodeOnceTheNodeServiceIsUpAndGoesOnlyWhole() throws Exception {
        NodeReconciler node = reconciler();
        KubeVolumeStore store = store(Duration.ofSeconds(30));
        // a controller that waits briefly, to see the group wait for the node service without waiting 30 s for it
        KubeVolumeStore impatient = store(Duration.ofSeconds(3));
        Volume a = store.create(spec("grp-a", 1 << 20, null));
        Volume b = store.create(spec("grp-b", 1 << 20, null));
        Files.writeString(roots.local().volumeDir(a.id()).resolve("data"), "a at the cut");
        Files.writeString(roots.local().volumeDir(b.id()).resolve("data"), "b at the cut");

        VolumeException waiting = assertThrows(VolumeException.class,
                () -> impatient.createGroupSnapshot("g", List.of(b.id(), a.id())));
        assertEquals(VolumeException.Reason.NOT_READY, waiting.reason(),
                "no group is taken before the node can hold back its volumes' writes");
        node.holdWritesThrough(NOTHING_SERVED);
        io.efuse.csi.volume.GroupSnapshot g = store.createGroupSnapshot("g", List.of(b.id(), a.id()));
        assertTrue(g.readyToUse());
        assertEquals(List.of(a.id(), b.id()).stream().sorted().toList(), g.sourceVolumeIds());
        assertEquals(g, store.createGroupSnapshot("g", List.of(a.id(), b.id())), "idempotent by name");
        VolumeException other = assertThrows(VolumeException.class, () -> store.createGroupSnapshot("g",
                List.of(a.id())));
        assertEquals(VolumeException.Reason.ALREADY_EXISTS, other.reason());
        for (String member : g.snapshotIds()) {
            Snapshot s = store.snapshot(member).orElseThrow();
            assertEquals(g.id(), s.groupSnapshotId());
            assertTrue(roots.local().snapshotExists(member), "the node took every member");
            VolumeException alone = assertThrows(VolumeException.class, () -> store.deleteSnapshot(member));
            assertEquals(VolumeException.Reason.INVALID, alone.reason(), "a member goes only with its group");
        }
        Snapshot ofA = store.snapshots().stream().filter(s -> s.sourceVolumeId().equals(a.id())).findFirst()
                .orElseThrow();
        Volume restored = store.create(spec("grp-r", 1 << 20, new ContentSource(ContentSource.Kind.SNAPSHOT,
                ofA.id())));
        assertEquals("a at the cut", Files.readString(roots.local().volumeDir(restored.id()).resolve("data")));

        store.deleteGroupSnapshot(g.id());
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (store.groupSnapshot(g.id()).isPresent()) { // the informer's cache follows the deletion
            assertTrue(System.nanoTime() - deadline < 0, "group " + g.id() + " still listed after its deletion");
            Thread.sleep(50);
        }
        for (String member : g.snapshotIds()) {
            assertFalse(roots.local().snapshotExists(member), "deleting the group reclaimed " + member);
        }
        store.deleteGroupSnapshot(g.id()); // already gone: still fine
    }

    @Test
    void aGroupThatItsNodeCannotHoldFailsWholeWithItsReason() throws Exception {
        NodeReconciler node = reconciler();
        KubeVolumeStore store = store(Duration.ofSeconds(20));
        Volume a = store.create(spec("held-a", 1 << 20, null));
        Volume b = store.create(spec("held-b", 1 << 20, null));
        node.holdWritesThrough(id -> {
            throw new VolumeException(VolumeException.Reason.IN_USE, "volume " + id + " cannot be held");
        });
        VolumeException e = assertThrows(VolumeException.class,
                () -> store.createGroupSnapshot("g", List.of(a.id(), b.id())));
        assertEquals(VolumeException.Reason.IN_USE, e.reason(), e.getMessage());
        assertTrue(e.getMessage().contains("cannot be held"), e.getMessage());
        assertEquals(List.of(), client.resources(EfuseSnapshot.class).list().getItems(), "no member is kept");
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (!store.snapshots().isEmpty()) { // the informer's cache follows the deletion
            assertTrue(System.nanoTime() - deadline < 0, "members still listed: " + store.snapshots());
            Thread.sleep(50);
        }
    }

    /** Polls the controller's view (its informer) of what the node reported. */
    private static void awaitWaiting(KubeVolumeStore store, String id, List<String> expected)
            throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (!store.waiting(id).equals(expected)) {
            assertTrue(System.nanoTime() - deadline < 0, "volume " + id + " reports " + store.waiting(id)
                    + " waiting, not " + expected);
            Thread.sleep(50);
        }
    }

    @Test
    void aModifiedVolumeReachesItsNodesSessionAndWhatWaitsIsReportedBackThroughItsStatus() throws Exception {
        List<Map<String, String>> given = new java.util.concurrent.CopyOnWriteArrayList<>();
        // The node's staged session, as the node service answers: the writeback cache only at the next staging.
        LiveParameters sessions = new LiveParameters() {
            @Override
            public Optional<ModifiedSettings> apply(Volume v) {
                given.add(v.mutableParameters());
                boolean writeback = "true".equals(v.mutableParameters().get(ModifiedSettings.WRITEBACK_CACHE));
                return Optional.of(new ModifiedSettings("classic",
                        writeback ? List.of(ModifiedSettings.WRITEBACK_CACHE) : List.of()));
            }

            @Override
            public List<String> waiting(String volumeId) {
                throw new AssertionError("the node reports through the resource");
            }
        };
        reconciler().applyParametersTo(sessions);
        KubeVolumeStore store = store(Duration.ofSeconds(20));
        Volume v = store.create(spec("pvc-m", 1 << 20, null));
        assertEquals(List.of(), store.waiting(v.id()));

        store.modify(v.id(), Map.of("tier", "classic", "writebackCache", "true"));
        awaitWaiting(store, v.id(), List.of("writebackCache"));
        assertTrue(given.contains(Map.of("tier", "classic", "writebackCache", "true")), given.toString());

        store.expand(v.id(), 2 << 20, 4096);
        assertEquals(List.of("writebackCache"),
                client.resources(EfuseVolume.class).withName(v.id()).get().getStatus().waitingParameters,
                "a resize pass keeps what waits");

        store.modify(v.id(), Map.of("writebackCache", "false"));
        awaitWaiting(store, v.id(), List.of());
        assertNull(client.resources(EfuseVolume.class).withName(v.id()).get().getStatus().waitingParameters);
        assertEquals(Optional.empty(), store.apply(v), "the controller applies nothing itself: the node does");
    }

    @Test
    void aModifiedSharedVolumeReachesTheSessionOnANodeThatStagesIt() throws Exception {
        BackingStore shared = BackingStore.openDirectories(tmp.resolve("shared"));
        own(new NodeReconciler(client, null, new BackingRoots(null, shared), Duration.ofMinutes(5)));
        NodeReconciler node = own(new NodeReconciler(client, "node-a", new BackingRoots(roots.local(), shared),
                Duration.ofMinutes(5)));
        List<Map<String, String>> given = new java.util.concurrent.CopyOnWriteArrayList<>();
        node.applyParametersTo(new LiveParameters() {
            @Override
            public Optional<ModifiedSettings> apply(Volume v) {
                given.add(v.mutableParameters());
                return Optional.of(new ModifiedSettings("classic", List.of(ModifiedSettings.WRITEBACK_CACHE)));
            }

            @Override
            public List<String> waiting(String volumeId) {
                throw new AssertionError("the node reports through NodeGetVolumeStats");
            }
        });
        KubeVolumeStore store = store(Duration.ofSeconds(20));
        Volume v = store.create(new VolumeSpec("pvc-shared", 1 << 20, 0, 1 << 20, 4096, Backend.SHARED, List.of(),
                List.of(), null, Map.of("backend", "shared"), Map.of()));
        assertTrue(v.ready());

        store.modify(v.id(), Map.of("writebackCache", "true"));
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (!given.contains(Map.of("writebackCache", "true"))) {
            assertTrue(System.nanoTime() - deadline < 0, "the node's session was given " + given);
            Thread.sleep(50);
        }
        assertEquals(List.of(), store.waiting(v.id()), "one node's view is not the shared volume's status");
    }

    @Test
    void theFinalizerHoldsADeletedVolumeUntilARestartedNodeReclaimsIt() throws Exception {
        NodeReconciler first = reconciler();
        KubeVolumeStore store = store(Duration.ofSeconds(20));
        Volume v = store.create(spec("pvc-3", 1 << 20, null));
        Path dir = roots.local().volumeDir(v.id());
        first.close();

        client.resources(EfuseVolume.class).withName(v.id()).delete();
        EfuseVolume held = client.resources(EfuseVolume.class).withName(v.id()).get();
        assertNotNull(held, "the finalizer keeps the resource while its node is down");
        assertNotNull(held.getMetadata().getDeletionTimestamp());
        assertTrue(Files.isDirectory(dir));

        reconciler(); // the node comes back: its informer's first list is a full resync
        awaitGone(v.id(), Duration.ofSeconds(20));
        assertFalse(Files.exists(dir));
    }

    @Test
    void aControllerThatRestartsMidCreateFindsTheVolumeItStarted() throws Exception {
        KubeVolumeStore before = store(Duration.ofMillis(500));
        VolumeException late = assertThrows(VolumeException.class, () -> before.create(spec("pvc-4", 1 << 20,
                null)));
        assertEquals(VolumeException.Reason.NOT_READY, late.reason(), "no node answered within the bound");
        assertNotNull(client.resources(EfuseVolume.class).withName(spec("pvc-4", 1, null).id()).get());
        before.close();

        reconciler();
        KubeVolumeStore after = store(Duration.ofSeconds(20));
        Volume v = after.create(spec("pvc-4", 1 << 20, null));
        assertTrue(v.ready());
        assertTrue(Files.isDirectory(roots.local().volumeDir(v.id())));
    }

    @Test
    void aNodeReconcilesOnlyWhatItOwns() throws Exception {
        NodeReconciler a = reconciler();
        KubeVolumeStore store = store(Duration.ofMillis(500));
        VolumeSpec other = new VolumeSpec("pvc-b", 1 << 20, 0, 1 << 20, 4096, Backend.LOCAL, List.of("node-b"),
                List.of("node-b"), null, Map.of(), Map.of());
        assertThrows(VolumeException.class, () -> store.create(other));
        assertTrue(a.drain(Duration.ofSeconds(10)));
        assertFalse(Files.exists(roots.local().volumeDir(other.id())));
        EfuseVolume cr = client.resources(EfuseVolume.class).withName(other.id()).get();
        assertEquals("node-b", cr.getMetadata().getLabels().get(MetadataKeys.NODE));
        assertNull(cr.getStatus(), "node-a left node-b's volume alone");
    }
}
