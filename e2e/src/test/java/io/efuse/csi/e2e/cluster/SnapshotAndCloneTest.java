package io.efuse.csi.e2e.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;

/**
 * A VolumeSnapshot of the chart's class restored into a new claim, and a clone of a claim: both hold exactly the
 * source's files at the moment they were taken.
 */
@ClusterTest
@Order(4)
class SnapshotAndCloneTest {

    static final String SNAPSHOT_API = "snapshot.storage.k8s.io/v1";
    /** Every regular file below /data with its checksum, and the symlinks with their targets, in a stable order. */
    private static final String LISTING = "cd /data && find . -type f -print0 | sort -z | xargs -0 sha256sum"
            + " && find . -type l -printf '%p -> %l\\n' | sort";

    private KubernetesClient kube;
    private Workloads w;
    private String sourceListing;

    @BeforeAll
    void sourceWithData() {
        kube = DriverRelease.require().kube;
        w = Workloads.namespace(kube, "e2e-snapshot");
        w.claim("source", Workloads.LOCAL, "64Mi", "ReadWriteOnce");
        w.sleeper("source", "source");
        w.awaitRunning("source");
        sourceListing = w.exec("source", "head -c 12582912 /dev/urandom > /data/random && mkdir -p /data/dir/sub"
                + " && echo nested > /data/dir/sub/file && chmod 640 /data/dir/sub/file && ln -s random /data/link"
                + " && sync && " + LISTING).orFail("writing the source's files").out();
        System.out.println("source files:\n" + sourceListing);
    }

    @AfterAll
    void cleanUp() {
        if (w != null) {
            w.delete();
        }
    }

    @Test
    @Order(1)
    void aSnapshotRestoresIntoANewClaimWithTheSourcesData() {
        GenericKubernetesResource snapshot = new GenericKubernetesResourceBuilder()
                .withApiVersion(SNAPSHOT_API).withKind("VolumeSnapshot")
                .withNewMetadata().withName("snap").withNamespace(w.ns).endMetadata()
                .withAdditionalProperties(Map.of("spec", Map.of("volumeSnapshotClassName", "efuse-snapshot",
                        "source", Map.of("persistentVolumeClaimName", "source"))))
                .build();
        var snapshots = kube.genericKubernetesResources(SNAPSHOT_API, "VolumeSnapshot").inNamespace(w.ns);
        long start = System.nanoTime();
        snapshots.resource(snapshot).create();
        var ready = Wait.until("VolumeSnapshot snap to be ready to use", Duration.ofMinutes(4),
                () -> snapshots.withName("snap").get(),
                s -> s.getAdditionalProperties().get("status") instanceof Map<?, ?> st && Boolean.TRUE.equals(st.get("readyToUse")),
                s -> "status " + s.getAdditionalProperties().get("status") + "; events: " + Diagnostics.eventsOf(kube, w.ns, "snap"));
        System.out.printf("TIMING VolumeSnapshot -> readyToUse: %.1f s; status %s%n", (System.nanoTime() - start) / 1e9,
                ready.getAdditionalProperties().get("status"));

        // later writes to the source must not reach the snapshot
        w.exec("source", "echo after > /data/after-snapshot && sync").orFail("writing to the source after the snapshot");
        w.claimFrom("restored", "64Mi", "VolumeSnapshot", "snap");
        w.sleeper("restored", "restored");
        w.awaitRunning("restored");
        String restored = w.exec("restored", LISTING).orFail("listing the restored claim").out();
        assertEquals(sourceListing, restored, "the restored claim holds the source's files as they were at the snapshot");
        String mode = w.exec("restored", "stat -c %a /data/dir/sub/file").orFail("stat").out().strip();
        assertEquals("640", mode, "modes are kept");
    }

    @Test
    @Order(2)
    void aCloneOfAClaimHasTheSourcesData() {
        String now = w.exec("source", LISTING).orFail("listing the source").out();
        w.claimFrom("clone", "64Mi", "PersistentVolumeClaim", "source");
        w.sleeper("clone", "clone");
        w.awaitRunning("clone");
        String cloned = w.exec("clone", LISTING).orFail("listing the clone").out();
        assertEquals(now, cloned, "the clone holds the source's files");
        assertNotEquals(w.volumeId("source"), w.volumeId("clone"), "the clone is a volume of its own");
        w.exec("clone", "echo clone-only > /data/clone-only && sync").orFail("writing to the clone");
        assertNotEquals(0, w.exec("source", "test -e /data/clone-only").exitCode(), "a write to the clone stays in the clone");
    }
}
