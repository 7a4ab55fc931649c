package io.efuse.csi.e2e.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.storage.VolumeAttributesClassBuilder;
import java.io.IOException;
import java.io.StringReader;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;

/**
 * A VolumeAttributesClass (storage.k8s.io/v1) that changes a claim's tier and write-back cache. docs/csi.md and
 * docs/configuration.md promise that ControllerModifyVolume accepts both, that a staged volume's live session takes
 * the tier and that the write-back cache waits for the next staging (the kernel negotiates the cache when a FUSE
 * connection starts): so the change must be recorded on the volume at once and be what the volume is mounted with
 * once its pod is replaced.
 */
@ClusterTest
@Order(6)
class VolumeAttributesClassTest {

    private static final String CLASS = "efuse-e2e-classic-writeback";

    private DriverRelease release;
    private Workloads w;

    @AfterAll
    void cleanUp() {
        if (w != null) {
            w.delete();
        }
        if (release != null) {
            release.kube.storage().v1().volumeAttributesClasses().withName(CLASS).delete();
        }
    }

    @Test
    void aClassChangeIsRecordedAtOnceAndMountedAtTheNextStaging() {
        release = DriverRelease.require();
        var kube = release.kube;
        w = Workloads.namespace(kube, "e2e-vac");
        w.claim("data", Workloads.LOCAL, "64Mi", "ReadWriteOnce");
        w.sleeper("app", "data");
        w.awaitRunning("app");
        String sums = w.exec("app", "head -c 4194304 /dev/urandom > /data/f && sync && sha256sum /data/f").orFail("write").out();
        String id = w.volumeId("data");
        Properties before = session(id);
        assertEquals("auto", before.getProperty("tier"), "the StorageClass's tier before the change: " + before);
        assertEquals("false", before.getProperty("writebackCache"), "no write-back cache before the change: " + before);

        kube.storage().v1().volumeAttributesClasses().withName(CLASS).delete();
        kube.storage().v1().volumeAttributesClasses().resource(new VolumeAttributesClassBuilder()
                .withNewMetadata().withName(CLASS).endMetadata().withDriverName(DriverRelease.DRIVER)
                .withParameters(Map.of("tier", "classic", "writebackCache", "true")).build()).create();
        long start = System.nanoTime();
        w.claimResource("data").edit(c -> {
            c.getSpec().setVolumeAttributesClassName(CLASS);
            return c;
        });
        // ControllerModifyVolume is one call to the controller: seconds, when the resizer passes the class on at all
        Wait.until("the claim to report volume attributes class " + CLASS, Duration.ofMinutes(2), () -> w.claim("data"),
                c -> CLASS.equals(c.getStatus().getCurrentVolumeAttributesClassName()),
                c -> "current " + c.getStatus().getCurrentVolumeAttributesClassName() + ", modify status "
                        + c.getStatus().getModifyVolumeStatus() + "; events: " + Diagnostics.eventsOf(kube, w.ns, "data"));
        System.out.printf("TIMING claim's class edit -> current class: %.1f s%n", (System.nanoTime() - start) / 1e9);

        var volume = kube.genericKubernetesResources("efuse.csi.io/v1alpha1", "EfuseVolume").withName(id).get();
        Object spec = volume.getAdditionalProperties().get("spec");
        assertTrue(spec instanceof Map<?, ?> m && m.get("mutableParameters") instanceof Map<?, ?> mp
                        && "classic".equals(mp.get("tier")) && "true".equals(mp.get("writebackCache")),
                "the volume records the class's parameters: " + spec);
        System.out.println("still staged, before a new staging: session " + session(id));

        w.deletePod("app");
        Wait.until("the volume " + id + " to be unstaged from the node", Duration.ofMinutes(2),
                () -> release.cluster.nodeShell("findmnt -rn -t fuse.efuse -o TARGET | grep -c " + id + " || true")
                        .out().strip(), "0"::equals);
        w.sleeper("app2", "data");
        w.awaitRunning("app2");
        Properties after = session(id);
        assertEquals("classic", after.getProperty("tier"), "the new staging mounts the class's tier: " + after);
        assertEquals("true", after.getProperty("writebackCache"), "the new staging asks for the write-back cache: " + after);
        assertEquals(sums, w.exec("app2", "sha256sum /data/f").orFail("read").out(), "the data is kept");

        var node = release.pod("node");
        var info = Wait.until("efuse_volume_info of " + id + " in the node plugin's metrics", Duration.ofMinutes(1),
                () -> Scrape.pod(kube, DriverRelease.NAMESPACE, node.getMetadata().getName(), DriverRelease.NODE_METRICS_PORT)
                        .series("efuse_volume_info", "volume", id), l -> !l.isEmpty());
        assertEquals("classic", info.getFirst().labels().get("tier"), "the mounted volume runs the classic tier: " + info);
    }

    /** The volume's session file on the node: the mount options the serving daemon mounted it with. */
    private Properties session(String id) {
        var cat = release.cluster.nodeExec(Duration.ofSeconds(30), "cat", "/run/efuse/" + id + "/session")
                .orFail("reading the session file of " + id + " on the node");
        Properties p = new Properties();
        try {
            p.load(new StringReader(cat.out()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return p;
    }
}
