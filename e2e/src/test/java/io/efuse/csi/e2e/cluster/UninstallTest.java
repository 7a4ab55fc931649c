package io.efuse.csi.e2e.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;

/**
 * Once the users' claims are deleted, helm uninstall leaves nothing behind: no mount on the node, no volume or
 * snapshot object, no finalizer holding anything, no backing directory.
 */
@ClusterTest
@Order(10)
class UninstallTest {

    private static final String EFUSE_API = "efuse.csi.io/v1alpha1";

    @Test
    void afterTheClaimsAreDeletedHelmUninstallLeavesNothingBehind() {
        var release = DriverRelease.require();
        KubernetesClient kube = release.kube;
        TestCluster cluster = release.cluster;

        kube.namespaces().withLabel(Workloads.NAMESPACE_LABEL).delete();
        Wait.until("the test namespaces to be deleted (pods, claims, snapshots)", Duration.ofMinutes(5),
                () -> names(kube.namespaces().withLabel(Workloads.NAMESPACE_LABEL).list().getItems().stream()), List::isEmpty);
        Wait.until("the driver's PersistentVolumes to be deleted", Duration.ofMinutes(3),
                () -> names(kube.persistentVolumes().list().getItems().stream()
                        .filter(pv -> pv.getSpec().getCsi() != null && DriverRelease.DRIVER.equals(pv.getSpec().getCsi().getDriver()))),
                List::isEmpty);
        Wait.until("the driver's VolumeSnapshotContents to be deleted", Duration.ofMinutes(3),
                () -> names(kube.genericKubernetesResources(SnapshotAndCloneTest.SNAPSHOT_API, "VolumeSnapshotContent").list()
                        .getItems().stream().filter(c -> c.getAdditionalProperties().get("spec") instanceof java.util.Map<?, ?> s
                                && DriverRelease.DRIVER.equals(s.get("driver")))), List::isEmpty);
        Wait.until("every EfuseVolume and EfuseSnapshot to be reclaimed", Duration.ofMinutes(3),
                () -> names(Stream.concat(efuse(kube, "EfuseVolume").stream(), efuse(kube, "EfuseSnapshot").stream())),
                List::isEmpty);

        release.uninstall();
        DriverRelease.uninstalled();
        Wait.until("the release's pods to be gone", Duration.ofMinutes(3), () -> names(release.pods().stream()), List::isEmpty);

        assertEquals("", cluster.nodeShell("findmnt -rn -t fuse.efuse -o TARGET,SOURCE").out().strip(),
                "no eFuse mount is left on the node");
        assertEquals("", cluster.nodeShell("findmnt -rn -o TARGET,SOURCE,FSTYPE | grep -E '^/var/lib/kubelet/(pods|plugins)/'"
                        + " | grep -i efuse || true").out().strip(),
                "no mount of the driver under kubelet's pods or plugins");
        Wait.until("kubelet to remove the pods' CSI volume directories", Duration.ofMinutes(2),
                () -> cluster.nodeShell("find /var/lib/kubelet/pods -mindepth 3 -maxdepth 4 -path '*/volumes/kubernetes.io~csi/*'"
                        + " 2>/dev/null || true").out().strip(), String::isEmpty);
        assertEquals("", cluster.nodeShell("find /var/lib/efuse/volumes /var/lib/efuse/shared -mindepth 2 -maxdepth 2"
                        + " 2>/dev/null || true").out().strip(),
                "no volume, snapshot or work directory is left in the backing roots");
        assertEquals("", cluster.nodeShell("find /run/efuse -mindepth 1 -maxdepth 1 -type d ! -name volumes"
                        + " 2>/dev/null || true").out().strip(),
                "no volume's recoverable state (session, journal) is left in /run/efuse");

        assertTrue(efuse(kube, "EfuseVolume").isEmpty() && efuse(kube, "EfuseSnapshot").isEmpty(), "no eFuse objects");
        assertEquals(List.of(), names(kube.persistentVolumes().list().getItems().stream()
                .filter(pv -> pv.getMetadata().getFinalizers() != null && !pv.getMetadata().getFinalizers().isEmpty()
                        && pv.getSpec().getCsi() != null && DriverRelease.DRIVER.equals(pv.getSpec().getCsi().getDriver()))),
                "no volume held by a finalizer");
        assertNull(kube.storage().v1().csiDrivers().withName(DriverRelease.DRIVER).get(), "the CSIDriver is gone");
        assertEquals(List.of(), names(kube.storage().v1().storageClasses().list().getItems().stream()
                .filter(sc -> DriverRelease.DRIVER.equals(sc.getProvisioner()))), "the StorageClasses are gone");
        Wait.until("CSINode " + TestCluster.NODE + " to no longer list the driver", Duration.ofMinutes(1),
                () -> kube.storage().v1().csiNodes().withName(TestCluster.NODE).get().getSpec().getDrivers(),
                drivers -> drivers == null || drivers.stream().noneMatch(d -> DriverRelease.DRIVER.equals(d.getName())));
    }

    private static List<GenericKubernetesResource> efuse(KubernetesClient kube, String kind) {
        return kube.genericKubernetesResources(EFUSE_API, kind).list().getItems();
    }

    private static List<String> names(Stream<? extends HasMetadata> objects) {
        return objects.map(o -> o.getMetadata().getName()
                + (o.getMetadata().getFinalizers() == null || o.getMetadata().getFinalizers().isEmpty() ? ""
                        : " finalizers " + o.getMetadata().getFinalizers())
                + (o.getMetadata().getDeletionTimestamp() != null ? " (deleting)" : "")).toList();
    }
}
