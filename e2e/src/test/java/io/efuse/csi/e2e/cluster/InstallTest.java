package io.efuse.csi.e2e.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.storage.CSIDriver;
import io.fabric8.kubernetes.api.model.storage.CSINodeDriver;
import io.fabric8.kubernetes.api.model.storage.CSIStorageCapacity;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;

/**
 * helm install of the chart with only what this cluster needs changed (its images, the shared root), timed until a
 * pod on a new claim runs; then what the installed objects must look like to the real API server and kubelet.
 */
@ClusterTest
@Order(1)
class InstallTest {

    private static final long TARGET_SECONDS = Long.getLong("cluster.installTargetSeconds", 60);

    private DriverRelease release;
    private KubernetesClient kube;
    private Workloads workloads;
    private double installToRunningSeconds = -1;

    @AfterAll
    void cleanUp() {
        if (workloads != null) {
            workloads.delete();
        }
    }

    @Test
    @Order(1)
    void helmInstallThenAClaimAndItsPodGetsThePodRunning() {
        long start;
        try {
            release = DriverRelease.prepare();
            kube = release.kube;
            workloads = Workloads.namespace(kube, "e2e-install");
            start = System.nanoTime();
            release.install();
            // what a user applies right after the install: the clock runs from helm install to the pod running
            workloads.claim("first", Workloads.LOCAL, "64Mi", "ReadWriteOnce");
            workloads.sleeper("first", "first");
            workloads.awaitRunning("first", Duration.ofMinutes(5));
            installToRunningSeconds = (System.nanoTime() - start) / 1e9;
            DriverRelease.installedBy(release);
        } catch (RuntimeException | AssertionError e) {
            DriverRelease.failed(e);
            throw e;
        }
        System.out.printf("TIMING helm install -> pod on a new claim Running: %.1f s (target %d s)%n",
                installToRunningSeconds, TARGET_SECONDS);
        workloads.exec("first", "echo ok > /data/ok && cat /data/ok").orFail("a write to the first claim");
    }

    @Test
    @Order(2)
    void helmInstallToPodRunningIsWithinTheTarget() {
        Assumptions.assumeTrue(installToRunningSeconds >= 0, "the install did not get a pod running");
        assertTrue(installToRunningSeconds <= TARGET_SECONDS, String.format(
                "helm install -> pod Running took %.1f s, over the %d s target", installToRunningSeconds, TARGET_SECONDS));
    }

    @Test
    @Order(3)
    void everyPodOfTheReleaseBecomesReady() {
        requireInstalled();
        release.awaitReady(Duration.ofMinutes(3));
        var pods = release.pods();
        assertEquals(3, pods.size(), "a controller, a node plugin and a daemon on the one node: "
                + pods.stream().map(p -> p.getMetadata().getName()).toList());
        pods.forEach(p -> System.out.println("ready: " + Workloads.describe(p)));
    }

    @Test
    @Order(4)
    void theNodeListsTheDriverWithItsTopologyKey() {
        requireInstalled();
        CSINodeDriver driver = Wait.until("CSINode " + TestCluster.NODE + " to list " + DriverRelease.DRIVER, Duration.ofMinutes(2),
                () -> kube.storage().v1().csiNodes().withName(TestCluster.NODE).get().getSpec().getDrivers().stream()
                        .filter(d -> DriverRelease.DRIVER.equals(d.getName())).findFirst().orElse(null),
                d -> d != null);
        assertEquals(TestCluster.NODE, driver.getNodeID());
        assertEquals(List.of(DriverRelease.TOPOLOGY_KEY), driver.getTopologyKeys());
        var node = kube.nodes().withName(TestCluster.NODE).get();
        assertEquals(TestCluster.NODE, node.getMetadata().getLabels().get(DriverRelease.TOPOLOGY_KEY),
                "kubelet labels the node with the driver's topology segment");
        CSIDriver csiDriver = kube.storage().v1().csiDrivers().withName(DriverRelease.DRIVER).get();
        assertFalse(csiDriver.getSpec().getAttachRequired());
        assertTrue(csiDriver.getSpec().getStorageCapacity());
    }

    @Test
    @Order(5)
    void storageCapacityIsPublishedForTheNode() {
        requireInstalled();
        List<CSIStorageCapacity> forNode = Wait.until("CSIStorageCapacity objects of " + Workloads.LOCAL + " for "
                        + TestCluster.NODE, Duration.ofMinutes(3),
                () -> kube.storage().v1().csiStorageCapacities().inNamespace(DriverRelease.NAMESPACE).list().getItems()
                        .stream().filter(c -> Workloads.LOCAL.equals(c.getStorageClassName()))
                        .filter(c -> c.getNodeTopology() != null && TestCluster.NODE.equals(
                                c.getNodeTopology().getMatchLabels().get(DriverRelease.TOPOLOGY_KEY)))
                        .filter(c -> c.getCapacity() != null).toList(),
                l -> !l.isEmpty(),
                l -> "none; all: " + kube.storage().v1().csiStorageCapacities().inAnyNamespace().list().getItems());
        forNode.forEach(c -> System.out.println("capacity: " + c.getStorageClassName() + " on " + TestCluster.NODE + ": "
                + c.getCapacity() + (c.getMaximumVolumeSize() != null ? ", max volume " + c.getMaximumVolumeSize() : "")));
        assertTrue(forNode.stream().allMatch(c -> c.getCapacity().getNumericalAmount().signum() > 0),
                "the capacity is positive: " + forNode);
    }

    @Test
    @Order(6)
    void theChartsCrdsAreAcceptedAndServed() {
        requireInstalled();
        for (String name : List.of("efusevolumes.efuse.csi.io", "efusesnapshots.efuse.csi.io")) {
            CustomResourceDefinition crd = kube.apiextensions().v1().customResourceDefinitions().withName(name).get();
            assertTrue(crd != null, name + " exists");
            Map<String, String> conditions = new java.util.HashMap<>();
            crd.getStatus().getConditions().forEach(c -> conditions.put(c.getType(), c.getStatus()));
            assertEquals("True", conditions.get("Established"), name + " is established: " + crd.getStatus().getConditions());
            assertEquals("True", conditions.get("NamesAccepted"), name + " names accepted: " + crd.getStatus().getConditions());
            assertFalse("True".equals(conditions.get("NonStructuralSchema")), name + " has a structural schema");
        }
        // the first claim's volume is an EfuseVolume the API server stored and the node reported on
        String volumeId = workloads.volumeId("first");
        var volume = kube.genericKubernetesResources("efuse.csi.io/v1alpha1", "EfuseVolume").withName(volumeId).get();
        assertTrue(volume != null, "EfuseVolume " + volumeId + " exists");
        assertTrue(volume.getAdditionalProperties().get("status") instanceof Map<?, ?>,
                "the node's status of " + volumeId + " was stored through the status subresource: " + volume);
        System.out.println("EfuseVolume " + volumeId + ": spec " + volume.getAdditionalProperties().get("spec")
                + ", status " + volume.getAdditionalProperties().get("status"));
    }

    private void requireInstalled() {
        Assumptions.assumeTrue(release != null && installToRunningSeconds >= 0, "the chart was not installed");
    }
}
