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
        assertTrue(cr.getMetadata().getFinalizers().contains(Labels.DATA_FINALIZER));
        assertEquals("node-a", cr.getMetadata().getLabels().get(Labels.NODE));
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
        assertEquals("node-b", cr.getMetadata().getLabels().get(Labels.NODE));
        assertNull(cr.getStatus(), "node-a left node-b's volume alone");
    }
}
