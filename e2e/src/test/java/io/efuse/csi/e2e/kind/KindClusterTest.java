package io.efuse.csi.e2e.kind;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.marcnuri.helm.Helm;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.storage.CSINode;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The chart installed into kind with the image of this build, then what a user does: a claim and a pod that
 * writes and reads, expansion, snapshot and restore, a node plugin restart while a pod writes, uninstall.
 * The steps build on each other and run in order.
 */
@Tag("kind")
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class KindClusterTest {

    private static final String NS = "efuse-csi";
    private static final String APP_NS = "default";
    private static final String BUSYBOX = System.getProperty("kind.busybox", "busybox:1.37");
    private static KindCluster cluster;
    private static KubernetesClient kube;

    private static String skipped;

    @BeforeAll
    static void install() throws Exception {
        try {
            cluster = KindCluster.startOrSkip();
        } catch (org.opentest4j.TestAbortedException e) {
            // each test reports the reason as it skips, where a class-level skip would show no test at all
            skipped = e.getMessage();
            System.out.println("kind tests skipped: " + skipped);
            return;
        }
        String image = System.getProperty("efuse.image", "efuse-csi:dev");
        cluster.load(image);
        int colon = image.lastIndexOf(':');
        new Helm(Path.of(System.getProperty("efuse.repo", "..")).resolve("charts/efuse-csi")).install()
                .withName("efuse-csi").withNamespace(NS).createNamespace()
                .withKubeConfig(cluster.kubeconfig)
                .set("image.repository", image.substring(0, colon))
                .set("image.tag", image.substring(colon + 1))
                .set("image.pullPolicy", "Never")
                .set("fsd.enabled", Boolean.parseBoolean(System.getProperty("kind.fsd", "true")))
                .set("volumeSnapshotClass.enabled", true)
                .waitReady().withTimeout(300)
                .call();
        kube = new KubernetesClientBuilder()
                .withConfig(Config.fromKubeconfig(Files.readString(cluster.kubeconfig))).build();
    }

    @org.junit.jupiter.api.BeforeEach
    void clusterIsUp() {
        Assumptions.assumeTrue(skipped == null, skipped);
    }

    @AfterAll
    static void tearDown() {
        if (kube != null) {
            kube.close();
        }
        if (cluster != null) {
            cluster.close();
        }
    }

    @Test
    @Order(1)
    void nodePluginIsRegisteredOnEveryNode() {
        var ds = kube.apps().daemonSets().inNamespace(NS).withName("efuse-csi-node").get();
        assertEquals(ds.getStatus().getDesiredNumberScheduled(), ds.getStatus().getNumberReady());
        for (var node : kube.nodes().list().getItems()) {
            CSINode csiNode = kube.storage().v1().csiNodes().withName(node.getMetadata().getName())
                    .waitUntilCondition(n -> n != null && n.getSpec().getDrivers().stream()
                            .anyMatch(d -> d.getName().equals("efuse.csi.io")), 2, TimeUnit.MINUTES);
            assertTrue(csiNode.getSpec().getDrivers().stream().anyMatch(d -> d.getName().equals("efuse.csi.io")));
        }
    }

    @Test
    @Order(2)
    void aPodWritesAndReadsItsClaim() {
        kube.persistentVolumeClaims().inNamespace(APP_NS).resource(claim("data", "64Mi", null)).create();
        runToCompletion("writer", "data", "echo hello-efuse > /data/hello.txt && sync && cat /data/hello.txt && df -k /data");
        assertTrue(kube.pods().inNamespace(APP_NS).withName("writer").getLog().contains("hello-efuse"));
    }

    @Test
    @Order(3)
    void theClaimExpandsOnline() {
        kube.persistentVolumeClaims().inNamespace(APP_NS).withName("data")
                .edit(c -> { c.getSpec().getResources().getRequests().put("storage", new Quantity("128Mi")); return c; });
        kube.persistentVolumeClaims().inNamespace(APP_NS).withName("data").waitUntilCondition(
                c -> c.getStatus() != null && c.getStatus().getCapacity() != null
                        && Quantity.getAmountInBytes(c.getStatus().getCapacity().get("storage")).longValue() >= 128L << 20,
                3, TimeUnit.MINUTES);
    }

    @Test
    @Order(4)
    void aSnapshotRestoresIntoANewClaim() {
        Assumptions.assumeTrue(kube.getApiGroups().getGroups().stream()
                        .anyMatch(g -> g.getName().equals("snapshot.storage.k8s.io")),
                "the cluster has no snapshot API (install the external-snapshotter CRDs and controller)");
        GenericKubernetesResource snapshot = new GenericKubernetesResourceBuilder()
                .withApiVersion("snapshot.storage.k8s.io/v1").withKind("VolumeSnapshot")
                .withNewMetadata().withName("data-snap").withNamespace(APP_NS).endMetadata()
                .withAdditionalProperties(Map.of("spec", Map.of("volumeSnapshotClassName", "efuse-snapshot",
                        "source", Map.of("persistentVolumeClaimName", "data"))))
                .build();
        kube.genericKubernetesResources("snapshot.storage.k8s.io/v1", "VolumeSnapshot").inNamespace(APP_NS).resource(snapshot).create();
        kube.genericKubernetesResources("snapshot.storage.k8s.io/v1", "VolumeSnapshot").inNamespace(APP_NS).withName("data-snap").waitUntilCondition(
                s -> s != null && s.get("status") instanceof Map<?, ?> st && Boolean.TRUE.equals(st.get("readyToUse")),
                3, TimeUnit.MINUTES);
        kube.persistentVolumeClaims().inNamespace(APP_NS).resource(claim("restored", "128Mi", "data-snap")).create();
        runToCompletion("reader", "restored", "cat /data/hello.txt");
        assertTrue(kube.pods().inNamespace(APP_NS).withName("reader").getLog().contains("hello-efuse"));
    }

    @Test
    @Order(5)
    void aNodePluginRestartDoesNotDisturbAWritingPod() throws InterruptedException {
        // the pod fails on the first write error, so a Running pod with growing output is zero errors
        kube.pods().inNamespace(APP_NS).resource(pod("looper", "data",
                "i=0; while true; do i=$((i+1)); echo line-$i >> /data/loop.txt || exit 3; sync /data/loop.txt || exit 4; "
                        + "sleep 0.1; done", "Always")).create();
        kube.pods().inNamespace(APP_NS).withName("looper").waitUntilReady(3, TimeUnit.MINUTES);
        String before = lines("looper");

        var plugin = kube.pods().inNamespace(NS).withLabel("app.kubernetes.io/component", "node").list().getItems().getFirst();
        kube.pods().inNamespace(NS).resource(plugin).delete();
        kube.apps().daemonSets().inNamespace(NS).withName("efuse-csi-node").waitUntilCondition(
                d -> d.getStatus().getNumberReady() != null
                        && d.getStatus().getNumberReady().equals(d.getStatus().getDesiredNumberScheduled())
                        && kube.pods().inNamespace(NS).withName(plugin.getMetadata().getName()).get() == null,
                3, TimeUnit.MINUTES);

        Pod looper = kube.pods().inNamespace(APP_NS).withName("looper").get();
        assertEquals("Running", looper.getStatus().getPhase());
        assertEquals(0, looper.getStatus().getContainerStatuses().getFirst().getRestartCount());
        String after = lines("looper");
        assertTrue(Long.parseLong(after) > Long.parseLong(before), "no writes after the restart: " + before + " → " + after);
        kube.pods().inNamespace(APP_NS).withName("looper").withGracePeriod(0).delete();
    }

    @Test
    @Order(6)
    void uninstallLeavesNothingBehind() {
        for (String pod : new String[] {"writer", "reader", "looper"}) {
            kube.pods().inNamespace(APP_NS).withName(pod).withGracePeriod(0).delete();
        }
        kube.persistentVolumeClaims().inNamespace(APP_NS).delete();
        kube.persistentVolumes().list().getItems().forEach(pv ->
                kube.persistentVolumes().resource(pv).waitUntilCondition(p -> p == null, 3, TimeUnit.MINUTES));
        Helm.uninstall("efuse-csi").withNamespace(NS).withKubeConfig(cluster.kubeconfig).call();

        String efuseApi = System.getProperty("kind.efuseApiVersion", "efuse.csi.io/v1alpha1");
        assertTrue(kube.genericKubernetesResources(efuseApi, "EfuseVolume").list().getItems().isEmpty(), "EfuseVolumes left");
        String selector = "app.kubernetes.io/instance";
        assertTrue(kube.rbac().clusterRoles().withLabel(selector, "efuse-csi").list().getItems().isEmpty());
        assertTrue(kube.storage().v1().storageClasses().withLabel(selector, "efuse-csi").list().getItems().isEmpty());
        assertTrue(kube.storage().v1().csiDrivers().withName("efuse.csi.io").get() == null);
        kube.pods().inNamespace(NS).withLabel(selector, "efuse-csi").waitUntilCondition(p -> p == null, 2, TimeUnit.MINUTES);
    }

    private static String lines(String pod) {
        return execOut(pod, "wc -l < /data/loop.txt");
    }

    private static String execOut(String pod, String script) {
        var out = new java.io.ByteArrayOutputStream();
        try (var watch = kube.pods().inNamespace(APP_NS).withName(pod).writingOutput(out).exec("sh", "-c", script)) {
            watch.exitCode().get(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException("exec in " + pod + ": " + e.getMessage(), e);
        }
        return out.toString().strip();
    }

    private static void runToCompletion(String name, String claim, String script) {
        kube.pods().inNamespace(APP_NS).resource(pod(name, claim, script, "Never")).create();
        Pod done = kube.pods().inNamespace(APP_NS).withName(name).waitUntilCondition(
                p -> p != null && p.getStatus() != null
                        && ("Succeeded".equals(p.getStatus().getPhase()) || "Failed".equals(p.getStatus().getPhase())),
                5, TimeUnit.MINUTES);
        assertEquals("Succeeded", done.getStatus().getPhase(),
                () -> name + " failed: " + kube.pods().inNamespace(APP_NS).withName(name).getLog());
    }

    private static PersistentVolumeClaim claim(String name, String size, String fromSnapshot) {
        var builder = new PersistentVolumeClaimBuilder().withNewMetadata().withName(name).endMetadata()
                .withNewSpec().withStorageClassName("efuse-local").withAccessModes("ReadWriteOnce")
                .withNewResources().addToRequests("storage", new Quantity(size)).endResources();
        if (fromSnapshot != null) {
            builder = builder.withNewDataSource().withApiGroup("snapshot.storage.k8s.io").withKind("VolumeSnapshot")
                    .withName(fromSnapshot).endDataSource();
        }
        return builder.endSpec().build();
    }

    private static Pod pod(String name, String claim, String script, String restartPolicy) {
        return new PodBuilder().withNewMetadata().withName(name).endMetadata()
                .withNewSpec().withRestartPolicy(restartPolicy)
                .addNewContainer().withName("app").withImage(BUSYBOX).withCommand("sh", "-c", script)
                .addNewVolumeMount().withName("data").withMountPath("/data").endVolumeMount().endContainer()
                .addNewVolume().withName("data").withNewPersistentVolumeClaim().withClaimName(claim).endPersistentVolumeClaim()
                .endVolume().endSpec().build();
    }
}
