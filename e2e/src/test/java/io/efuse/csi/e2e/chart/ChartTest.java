package io.efuse.csi.e2e.chart;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.storage.CSIDriver;
import io.fabric8.kubernetes.api.model.storage.StorageClass;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.NullSource;
import org.junit.jupiter.params.provider.ValueSource;

/** The chart as reviewers read it: lint, then what helm template renders with several sets of values. */
class ChartTest {

    private static final Map<String, RenderedChart> RENDERED = new HashMap<>();

    /** Rendering goes through Helm's Go library; each values set is rendered once for all the tests. */
    private static RenderedChart rendered(String values) {
        synchronized (RENDERED) {
            return RENDERED.computeIfAbsent(String.valueOf(values), v -> RenderedChart.render(values, Map.of()));
        }
    }

    private static final String NODE = "efuse-csi-node";
    private static final String FSD = "efuse-csi-fsd";
    private static final String CONTROLLER = "efuse-csi-controller";

    @Test
    void lintFindsNothingInStrictMode() {
        LintResult lint = new Helm(RenderedChart.chart()).lint().strict().call();
        assertFalse(lint.isFailed(), () -> "helm lint --strict: " + lint.getMessages());
    }

    @ParameterizedTest
    @NullSource
    @ValueSource(strings = {"everything.yaml", "microk8s.yaml"})
    void everyObjectParsesIntoItsModelWithNoUnknownField(String values) {
        RenderedChart chart = rendered(values);
        // render() parsed each document strictly; here: nothing is missing and names are unique per kind
        Set<String> kinds = chart.objects.stream().map(HasMetadata::getKind).collect(Collectors.toSet());
        assertTrue(kinds.containsAll(Set.of("CSIDriver", "ServiceAccount", "ClusterRole", "ClusterRoleBinding",
                "Role", "RoleBinding", "Deployment", "DaemonSet", "StorageClass")), kinds::toString);
        List<String> ids = chart.objects.stream().map(o -> o.getKind() + "/" + o.getMetadata().getName()).toList();
        assertEquals(ids.size(), Set.copyOf(ids).size(), () -> "duplicate objects: " + ids);
        for (HasMetadata o : chart.objects) {
            String ns = o.getMetadata().getNamespace();
            assertTrue(ns == null || ns.equals(RenderedChart.NAMESPACE), () -> o.getKind() + " in namespace " + ns);
        }
    }

    @Test
    void crdsAreClusterScopedInTheDriversGroupAndParseStrictly() throws IOException {
        for (Path crd : RenderedChart.crds()) {
            var parsed = RenderedChart.parse(Files.readString(crd)).objects;
            assertEquals(1, parsed.size(), crd::toString);
            var definition = (io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition) parsed.getFirst();
            assertEquals("efuse.csi.io", definition.getSpec().getGroup());
            assertEquals("Cluster", definition.getSpec().getScope());
        }
    }

    @ParameterizedTest
    @NullSource
    @ValueSource(strings = {"microk8s.yaml"})
    void nodePluginPropagatesMountsBidirectionallyOnTheKubeletDir(String values) {
        RenderedChart chart = rendered(values);
        String kubeletDir = values == null ? "/var/lib/kubelet" : "/var/snap/microk8s/common/var/lib/kubelet";
        PodSpec pod = chart.one(DaemonSet.class, NODE).getSpec().getTemplate().getSpec();
        Container plugin = container(pod, "efuse-csi");
        VolumeMount kubelet = mount(plugin, "kubelet-dir");
        assertEquals(kubeletDir, kubelet.getMountPath());
        assertEquals("Bidirectional", kubelet.getMountPropagation());
        assertEquals(kubeletDir, volume(pod, "kubelet-dir").getHostPath().getPath());
        assertEquals("Bidirectional", mount(plugin, "bpffs").getMountPropagation());
        assertEquals("/dev/fuse", volume(pod, "dev-fuse").getHostPath().getPath());
        assertEquals("CharDevice", volume(pod, "dev-fuse").getHostPath().getType());
        assertEquals("/run/efuse", mount(plugin, "efuse-run").getMountPath());
        assertEquals(Boolean.TRUE, mount(plugin, "btf").getReadOnly());

        Container registrar = container(pod, "node-driver-registrar");
        assertTrue(registrar.getArgs().contains(
                "--kubelet-registration-path=" + kubeletDir + "/plugins/efuse.csi.io/csi.sock"), registrar.getArgs()::toString);
        assertEquals(kubeletDir + "/plugins_registry", volume(pod, "registration-dir").getHostPath().getPath());
        assertEquals(kubeletDir + "/plugins/efuse.csi.io", volume(pod, "plugin-dir").getHostPath().getPath());
        // no sidecar sees the kubelet dir: only the driver mounts there
        for (Container c : pod.getContainers()) {
            if (!c.getName().equals("efuse-csi")) {
                assertTrue(c.getVolumeMounts().stream().noneMatch(m -> m.getName().equals("kubelet-dir")), c.getName());
            }
        }
    }

    @Test
    void nodePluginGetsItsContractArguments() {
        Container plugin = container(rendered(null).one(DaemonSet.class, NODE).getSpec().getTemplate().getSpec(), "efuse-csi");
        assertEquals(List.of("node", "--log-level=info", "--endpoint=unix:///csi/csi.sock", "--node-id=$(NODE_NAME)",
                "--driver-name=efuse.csi.io", "--state-dir=/var/lib/efuse/state", "--backing-root=/var/lib/efuse/volumes",
                "--engine=auto", "--image-fs=auto", "--metrics-address=:9808", "--slow-request-ms=1000",
                "--keeper-socket=/run/efuse/keeper.sock"),
                plugin.getArgs());
        Container everything = container(rendered("everything.yaml").one(DaemonSet.class, NODE).getSpec().getTemplate()
                .getSpec(), "efuse-csi");
        assertTrue(everything.getArgs().containsAll(List.of("--shared-root=/mnt/shared/efuse", "--max-volumes=200",
                "--enable-uring")),
                everything.getArgs()::toString);
        EnvVar nodeName = plugin.getEnv().stream().filter(e -> e.getName().equals("NODE_NAME")).findFirst().orElseThrow();
        assertEquals("spec.nodeName", nodeName.getValueFrom().getFieldRef().getFieldPath());
        Container controller = container(rendered(null).one(Deployment.class, CONTROLLER).getSpec().getTemplate().getSpec(),
                "efuse-csi");
        assertEquals(List.of("controller", "--log-level=info", "--endpoint=unix:///csi/csi.sock",
                "--driver-name=efuse.csi.io", "--metrics-address=:9809"), controller.getArgs());
    }

    @ParameterizedTest
    @NullSource
    @ValueSource(strings = {"everything.yaml", "microk8s.yaml"})
    void onlyTheNodeSideRunsPrivileged(String values) {
        RenderedChart chart = rendered(values);
        Set<String> privileged = new TreeSet<>();
        for (var entry : podSpecs(chart).entrySet()) {
            for (Container c : entry.getValue().getContainers()) {
                var sc = c.getSecurityContext();
                if (sc != null && Boolean.TRUE.equals(sc.getPrivileged())) {
                    privileged.add(entry.getKey() + "/" + c.getName());
                } else {
                    assertNotNull(sc, () -> c.getName() + " has no securityContext");
                    assertEquals(Boolean.FALSE, sc.getAllowPrivilegeEscalation(), c.getName());
                    assertEquals(List.of("ALL"), sc.getCapabilities().getDrop(), c.getName());
                    assertEquals(Boolean.TRUE, sc.getReadOnlyRootFilesystem(), c.getName());
                }
            }
        }
        Set<String> expected = new TreeSet<>(Set.of(NODE + "/efuse-csi"));
        if (!"microk8s.yaml".equals(values)) {
            expected.add(FSD + "/efuse-fsd");
            expected.add(FSD + "/efuse-fsd-spare");
        }
        assertEquals(expected, privileged);
    }

    @ParameterizedTest
    @NullSource
    @ValueSource(strings = {"everything.yaml", "microk8s.yaml"})
    void rbacGrantsNamedVerbsOnNamedResourcesOnly(String values) {
        RenderedChart chart = rendered(values);
        List<PolicyRule> all = Stream.concat(
                chart.all(ClusterRole.class).stream().flatMap(r -> r.getRules().stream()),
                chart.all(Role.class).stream().flatMap(r -> r.getRules().stream())).toList();
        for (PolicyRule rule : all) {
            assertFalse(rule.getVerbs().contains("*") || rule.getResources().contains("*")
                    || rule.getApiGroups().contains("*"), () -> "wildcard rule " + rule);
            assertFalse(rule.getResources().contains("secrets"), () -> "secrets access " + rule);
        }
        ClusterRole node = chart.one(ClusterRole.class, NODE);
        assertEquals(Set.of("get", "list", "watch", "update", "patch"), verbs(node, "efuse.csi.io", "efusevolumes"));
        assertEquals(Set.of("get", "patch"), verbs(node, "", "nodes"));
        assertEquals(Set.of(), verbs(node, "", "persistentvolumes"));

        ClusterRole controller = chart.one(ClusterRole.class, CONTROLLER);
        assertEquals(Set.of("get", "list", "watch", "create", "update", "patch", "delete"),
                verbs(controller, "efuse.csi.io", "efusevolumes"));
        assertEquals(Set.of("get", "list", "watch", "create", "patch", "delete"),
                verbs(controller, "", "persistentvolumes"));
        assertEquals(Set.of("get", "list", "watch", "update"), verbs(controller, "", "persistentvolumeclaims"));
        assertEquals(Set.of("patch"), verbs(controller, "", "persistentvolumeclaims/status"));
        assertEquals(Set.of(), verbs(controller, "", "nodes/status"));
        // the resizer's VolumeAttributesClass informer was refused without it in a real cluster
        assertEquals(Set.of("get", "list", "watch"), verbs(controller, "storage.k8s.io", "volumeattributesclasses"));

        boolean snapshots = !"microk8s.yaml".equals(values);
        assertEquals(snapshots ? Set.of("update", "patch") : Set.of(),
                verbs(controller, "snapshot.storage.k8s.io", "volumesnapshotcontents/status"));
        Role namespaced = chart.one(Role.class, CONTROLLER);
        assertEquals(snapshots ? Set.of("get", "list", "watch", "create", "update", "patch", "delete") : Set.of(),
                verbs(namespaced, "storage.k8s.io", "csistoragecapacities"));
        assertEquals(Set.of("get", "list", "watch", "create", "update", "patch", "delete"),
                verbs(namespaced, "coordination.k8s.io", "leases"));
    }

    @ParameterizedTest
    @NullSource
    @ValueSource(strings = {"microk8s.yaml"})
    void driverContainersAreProbedThroughTheLivenessProbeSidecar(String values) {
        RenderedChart chart = rendered(values);
        for (PodSpec pod : List.of(chart.one(DaemonSet.class, NODE).getSpec().getTemplate().getSpec(),
                chart.one(Deployment.class, CONTROLLER).getSpec().getTemplate().getSpec())) {
            Container driver = container(pod, "efuse-csi");
            for (Probe probe : List.of(driver.getLivenessProbe(), driver.getReadinessProbe())) {
                assertNotNull(probe, "probe missing");
                assertEquals("/healthz", probe.getHttpGet().getPath());
                assertEquals("healthz", probe.getHttpGet().getPort().getStrVal());
            }
            int healthPort = driver.getPorts().stream().filter(p -> p.getName().equals("healthz")).findFirst()
                    .orElseThrow().getContainerPort();
            Container sidecar = container(pod, "liveness-probe");
            assertTrue(sidecar.getArgs().contains("--health-port=" + healthPort), sidecar.getArgs()::toString);
            assertTrue(sidecar.getArgs().contains("--csi-address=/csi/csi.sock"));
            for (Container c : pod.getContainers()) {
                if (!c.getName().equals("liveness-probe")) {
                    assertNotNull(c.getLivenessProbe(), () -> c.getName() + " has no liveness probe");
                }
            }
        }
        // the node plugin is ready soon after start: its readiness is checked every 2 s, not after a delay
        Probe ready = container(chart.one(DaemonSet.class, NODE).getSpec().getTemplate().getSpec(), "efuse-csi")
                .getReadinessProbe();
        assertEquals(2, ready.getPeriodSeconds());
        assertEquals(null, ready.getInitialDelaySeconds());
    }

    @ParameterizedTest
    @NullSource
    @ValueSource(strings = {"microk8s.yaml"})
    void csiDriverNeedsNoAttachAndGetsPodInfo(String values) {
        CSIDriver driver = rendered(values).one(CSIDriver.class, "efuse.csi.io");
        assertEquals(Boolean.FALSE, driver.getSpec().getAttachRequired());
        assertEquals(Boolean.TRUE, driver.getSpec().getPodInfoOnMount());
        assertEquals("File", driver.getSpec().getFsGroupPolicy());
        assertEquals(values == null, driver.getSpec().getStorageCapacity());
    }

    /**
     * Inline volumes bypass claims, quotas and capacity tracking, so they are opt-in; when on, the CSIDriver (what
     * the API server lets pods use) and the node plugin (what it makes) say the same.
     */
    @Test
    void inlineVolumesAreOffUnlessEnabledAndThenTheDriverAndTheNodePluginAgree() {
        RenderedChart defaults = rendered(null);
        assertEquals(List.of("Persistent"), defaults.one(CSIDriver.class, "efuse.csi.io").getSpec()
                .getVolumeLifecycleModes());
        Container off = container(defaults.one(DaemonSet.class, NODE).getSpec().getTemplate().getSpec(), "efuse-csi");
        assertTrue(off.getArgs().stream().noneMatch(a -> a.contains("inline")), off.getArgs()::toString);

        RenderedChart everything = rendered("everything.yaml");
        assertEquals(List.of("Persistent", "Ephemeral"), everything.one(CSIDriver.class, "efuse.csi.io").getSpec()
                .getVolumeLifecycleModes());
        Container on = container(everything.one(DaemonSet.class, NODE).getSpec().getTemplate().getSpec(), "efuse-csi");
        assertTrue(on.getArgs().containsAll(List.of("--allow-inline-volumes", "--inline-volume-max-size=10Gi")),
                on.getArgs()::toString);

        RenderedChart unbounded = RenderedChart.render(null, Map.of("inlineVolumes.enabled", true));
        Container plugin = container(unbounded.one(DaemonSet.class, NODE).getSpec().getTemplate().getSpec(), "efuse-csi");
        assertTrue(plugin.getArgs().contains("--allow-inline-volumes"), plugin.getArgs()::toString);
        assertTrue(plugin.getArgs().stream().noneMatch(a -> a.startsWith("--inline-volume-max-size")),
                plugin.getArgs()::toString);
        // a bound alone turns nothing on
        Container bounded = container(RenderedChart.render(null, Map.of("inlineVolumes.maxSize", "1Gi"))
                .one(DaemonSet.class, NODE).getSpec().getTemplate().getSpec(), "efuse-csi");
        assertTrue(bounded.getArgs().stream().noneMatch(a -> a.contains("inline")), bounded.getArgs()::toString);

        assertThrows(Exception.class, () -> RenderedChart.render(null, Map.of("inlineVolumes.maxSize", "lots")));
        assertThrows(Exception.class, () -> RenderedChart.render(null, Map.of("inlineVolumes.maxSize", "10GiB")));
        assertThrows(Exception.class, () -> RenderedChart.render(null, Map.of("inlineVolumes.enable", true)));
    }

    @Test
    void theStorageEngineAndABtrfsPoolReachTheNodePluginAndBadOnesAreRefused() {
        Container plugin = container(RenderedChart.render(null, Map.of("node.storage.engine", "image",
                "node.storage.imageFs", "xfs", "node.storage.btrfsPool.image", "/var/lib/efuse/pool.img",
                "node.storage.btrfsPool.size", "100Gi")).one(DaemonSet.class, NODE).getSpec().getTemplate().getSpec(),
                "efuse-csi");
        assertTrue(plugin.getArgs().containsAll(List.of("--engine=image", "--image-fs=xfs",
                "--btrfs-pool-image=/var/lib/efuse/pool.img", "--btrfs-pool-size=100Gi")), plugin.getArgs()::toString);
        PodSpec node = rendered(null).one(DaemonSet.class, NODE).getSpec().getTemplate().getSpec();
        assertEquals("/dev", volume(node, "host-dev").getHostPath().getPath(), "loop devices are made on the host");
        assertThrows(Exception.class, () -> RenderedChart.render(null, Map.of("node.storage.engine", "zfs")));
        assertThrows(Exception.class, () -> RenderedChart.render(null, Map.of("node.storage.imageFs", "ext3")));
        assertThrows(Exception.class, () -> RenderedChart.render(null, Map.of("node.storage.btrfsPool.image",
                "/var/lib/efuse/pool.img")), "a pool without a size");
    }

    @Test
    void storageClassesFollowTheBackends() {
        RenderedChart defaults = rendered(null);
        StorageClass local = defaults.one(StorageClass.class, "efuse-local");
        assertEquals("efuse.csi.io", local.getProvisioner());
        assertEquals("WaitForFirstConsumer", local.getVolumeBindingMode());
        assertEquals(Boolean.TRUE, local.getAllowVolumeExpansion());
        assertEquals(Map.of("backend", "local", "tier", "auto"), local.getParameters());
        assertTrue(defaults.find(StorageClass.class, s -> s.getMetadata().getName().equals("efuse-shared")).isEmpty(),
                "the shared class needs node.sharedRoot");

        RenderedChart everything = rendered("everything.yaml");
        StorageClass shared = everything.one(StorageClass.class, "efuse-shared");
        assertEquals("Immediate", shared.getVolumeBindingMode());
        assertEquals("shared", shared.getParameters().get("backend"));
        StorageClass defaultLocal = everything.one(StorageClass.class, "efuse-local");
        assertEquals("true", defaultLocal.getMetadata().getAnnotations().get("storageclass.kubernetes.io/is-default-class"));
        assertEquals(List.of("noatime"), defaultLocal.getMountOptions());
        assertEquals("passthrough", defaultLocal.getParameters().get("tier"));
        Container plugin = container(everything.one(DaemonSet.class, NODE).getSpec().getTemplate().getSpec(), "efuse-csi");
        assertEquals("HostToContainer", mount(plugin, "shared-root").getMountPropagation());
        assertEquals("/mnt/shared/efuse", mount(plugin, "shared-root").getMountPath());
    }

    @Test
    void aSpareDaemonStandsByInTheDaemonsPodOnItsOwnPortUnlessTurnedOff() {
        PodSpec pod = rendered(null).one(DaemonSet.class, FSD).getSpec().getTemplate().getSpec();
        Container spare = container(pod, "efuse-fsd-spare");
        Container serving = container(pod, "efuse-fsd");
        assertTrue(spare.getArgs().contains("--metrics-address=:9806"), spare.getArgs()::toString);
        assertEquals("metrics-spare", spare.getReadinessProbe().getHttpGet().getPort().getStrVal());
        assertEquals(serving.getVolumeMounts(), spare.getVolumeMounts(), "the spare takes the same sessions over");
        assertEquals(serving.getSecurityContext(), spare.getSecurityContext());
        PodSpec single = RenderedChart.render(null, Map.of("fsd.spare.enabled", false)).one(DaemonSet.class, FSD)
                .getSpec().getTemplate().getSpec();
        assertEquals(List.of("efuse-fsd"), single.getContainers().stream().map(Container::getName).toList());
    }

    /** Found in a real cluster: a nested mount under the Bidirectional /var/lib/efuse piled up on the host. */
    @Test
    void sharedRootUnderTheDataDirectoryIsReachedThroughItsMountAlone() {
        RenderedChart nested = RenderedChart.render(null, Map.of("node.sharedRoot", "/var/lib/efuse/shared"));
        for (String name : List.of(NODE, FSD)) {
            PodSpec pod = nested.one(DaemonSet.class, name).getSpec().getTemplate().getSpec();
            assertTrue(pod.getVolumes().stream().noneMatch(v -> v.getName().equals("shared-root")), name);
            Container driver = pod.getContainers().getFirst();
            assertTrue(driver.getVolumeMounts().stream().noneMatch(m -> m.getName().equals("shared-root")), name);
            assertEquals("Bidirectional", mount(driver, "efuse-data").getMountPropagation(), name);
        }
        Container plugin = container(nested.one(DaemonSet.class, NODE).getSpec().getTemplate().getSpec(), "efuse-csi");
        assertTrue(plugin.getArgs().contains("--shared-root=/var/lib/efuse/shared"), plugin.getArgs()::toString);
    }

    @Test
    void snapshotClassIsRenderedOnlyWhereTheSnapshotApiIsServedOrForced() {
        assertTrue(rendered(null).objects.stream().noneMatch(o -> o.getKind().equals("VolumeSnapshotClass")));
        HasMetadata vsc = rendered("everything.yaml").objects.stream()
                .filter(o -> o.getKind().equals("VolumeSnapshotClass")).findFirst().orElseThrow();
        assertEquals("efuse.csi.io", ((ExtraKinds.VolumeSnapshotClass) vsc).driver());
        assertEquals("Delete", ((ExtraKinds.VolumeSnapshotClass) vsc).deletionPolicy());
        Deployment without = rendered("microk8s.yaml").one(Deployment.class, CONTROLLER);
        assertTrue(without.getSpec().getTemplate().getSpec().getContainers().stream()
                .noneMatch(c -> c.getName().equals("csi-snapshotter")));
    }

    @Test
    void groupSnapshotsTurnTheSnapshottersGateOnOnlyWhereTheApiIsServedOrAskedFor() {
        String gate = "--feature-gates=CSIVolumeGroupSnapshot=true";
        RenderedChart auto = rendered(null);
        assertFalse(container(auto.one(Deployment.class, CONTROLLER).getSpec().getTemplate().getSpec(),
                "csi-snapshotter").getArgs().contains(gate), "without the API the gate would stop every snapshot");
        assertEquals(Set.of(), verbs(auto.one(ClusterRole.class, CONTROLLER), "groupsnapshot.storage.k8s.io",
                "volumegroupsnapshotcontents"));
        RenderedChart on = RenderedChart.render(null, Map.of("controller.groupSnapshots", true));
        assertTrue(container(on.one(Deployment.class, CONTROLLER).getSpec().getTemplate().getSpec(),
                "csi-snapshotter").getArgs().contains(gate));
        ClusterRole role = on.one(ClusterRole.class, CONTROLLER);
        assertEquals(Set.of("get", "list", "watch", "update", "patch"), verbs(role, "groupsnapshot.storage.k8s.io",
                "volumegroupsnapshotcontents"));
        assertEquals(Set.of("update", "patch"), verbs(role, "groupsnapshot.storage.k8s.io",
                "volumegroupsnapshotcontents/status"));
        assertEquals(Set.of("get", "list", "watch"), verbs(role, "groupsnapshot.storage.k8s.io",
                "volumegroupsnapshotclasses"));
        assertTrue(on.objects.stream().noneMatch(o -> o.getKind().equals("VolumeGroupSnapshotClass")),
                "no class of an API version the cluster does not serve");
        RenderedChart noSnapshots = RenderedChart.render(null, Map.of("controller.groupSnapshots", true,
                "controller.snapshots", false));
        assertTrue(noSnapshots.one(Deployment.class, CONTROLLER).getSpec().getTemplate().getSpec().getContainers()
                .stream().noneMatch(c -> c.getName().equals("csi-snapshotter")));
    }

    @ParameterizedTest
    @NullSource
    @ValueSource(strings = {"everything.yaml"})
    void theControllerMakesTheSharedBackendsVolumesWhereOneIsConfigured(String values) {
        RenderedChart chart = rendered(values);
        PodSpec pod = chart.one(Deployment.class, CONTROLLER).getSpec().getTemplate().getSpec();
        Container driver = container(pod, "efuse-csi");
        ClusterRole role = chart.one(ClusterRole.class, CONTROLLER);
        if (values == null) {
            assertTrue(driver.getArgs().stream().noneMatch(a -> a.startsWith("--shared-root")), driver.getArgs()::toString);
            assertEquals(List.of("ALL"), driver.getSecurityContext().getCapabilities().getDrop());
            List<String> added = driver.getSecurityContext().getCapabilities().getAdd();
            assertTrue(added == null || added.isEmpty(), "no capability without the shared backend: " + added);
            assertEquals(Set.of("get"), verbs(role, "efuse.csi.io", "efusevolumes/status"));
            return;
        }
        assertTrue(driver.getArgs().contains("--shared-root=/mnt/shared/efuse"), driver.getArgs()::toString);
        assertEquals("/mnt/shared/efuse", volume(pod, "shared-root").getHostPath().getPath());
        assertEquals("/mnt/shared/efuse", mount(driver, "shared-root").getMountPath());
        assertEquals(0L, driver.getSecurityContext().getRunAsUser());
        assertTrue(driver.getSecurityContext().getCapabilities().getAdd().containsAll(List.of("CHOWN", "FOWNER")));
        assertEquals(Boolean.FALSE, driver.getSecurityContext().getAllowPrivilegeEscalation());
        // it reports the volumes it makes ready, as a node plugin does for its own
        assertEquals(Set.of("get", "update", "patch"), verbs(role, "efuse.csi.io", "efusevolumes/status"));
    }

    @Test
    void daemonRollsBySurgeSoThatTheOldOneHandsItsSessionsOver() {
        DaemonSet fsd = rendered(null).one(DaemonSet.class, FSD);
        assertEquals("RollingUpdate", fsd.getSpec().getUpdateStrategy().getType());
        assertEquals(1, fsd.getSpec().getUpdateStrategy().getRollingUpdate().getMaxSurge().getIntVal());
        assertEquals(0, fsd.getSpec().getUpdateStrategy().getRollingUpdate().getMaxUnavailable().getIntVal());
        assertEquals(60L, fsd.getSpec().getTemplate().getSpec().getTerminationGracePeriodSeconds());
        Container daemon = container(fsd.getSpec().getTemplate().getSpec(), "efuse-fsd");
        assertEquals(List.of("fsd", "--log-level=info", "--socket=/run/efuse/keeper.sock", "--metrics-address=:9807",
                "--handover-wait-seconds=45"), daemon.getArgs());
        // the surge waits for the new daemon to be known to the keeper before the old one is told to hand over
        assertEquals("/healthz", daemon.getReadinessProbe().getHttpGet().getPath());
        assertEquals("metrics", daemon.getReadinessProbe().getHttpGet().getPort().getStrVal());
        assertEquals(9807, daemon.getPorts().stream().filter(p -> p.getName().equals("metrics")).findFirst()
                .orElseThrow().getContainerPort());
        assertNull(daemon.getLivenessProbe(), "a daemon waiting for its keeper is not to be restarted");
    }

    @ParameterizedTest
    @NullSource
    @ValueSource(strings = {"everything.yaml", "microk8s.yaml"})
    void theNodePluginKeepsTheDaemonsDescriptorsWhereverTheDaemonRuns(String values) {
        RenderedChart chart = rendered(values);
        PodSpec node = chart.one(DaemonSet.class, NODE).getSpec().getTemplate().getSpec();
        List<String> args = container(node, "efuse-csi").getArgs();
        var fsd = chart.find(DaemonSet.class, d -> d.getMetadata().getName().equals(FSD));
        if ("microk8s.yaml".equals(values)) {
            assertTrue(fsd.isEmpty(), "fsd.enabled=false: no daemon");
            assertTrue(args.stream().noneMatch(a -> a.startsWith("--keeper-socket")),
                    "without a daemon the node plugin serves its sessions itself: " + args);
            return;
        }
        assertTrue(args.contains("--keeper-socket=/run/efuse/keeper.sock"), args::toString);
        PodSpec daemon = fsd.orElseThrow().getSpec().getTemplate().getSpec();
        assertTrue(container(daemon, "efuse-fsd").getArgs().contains("--socket=/run/efuse/keeper.sock"));
        // The socket and the volumes' state live in one host directory both pods mount.
        for (PodSpec pod : List.of(node, daemon)) {
            assertEquals("/run/efuse", volume(pod, "efuse-run").getHostPath().getPath());
            String c = pod == node ? "efuse-csi" : "efuse-fsd";
            assertEquals("/run/efuse", mount(container(pod, c), "efuse-run").getMountPath());
        }
    }

    @Test
    void monitoringObjectsSelectTheMetricsPorts() {
        RenderedChart chart = rendered("everything.yaml");
        var sm = (ExtraKinds.ServiceMonitor) chart.objects.stream().filter(o -> o.getKind().equals("ServiceMonitor"))
                .findFirst().orElseThrow();
        assertEquals("prometheus", sm.getMetadata().getLabels().get("release"));
        assertEquals("metrics", sm.spec().endpoints().getFirst().port());
        var pm = (ExtraKinds.PodMonitor) chart.objects.stream().filter(o -> o.getKind().equals("PodMonitor"))
                .findFirst().orElseThrow();
        assertEquals("metrics", pm.spec().podMetricsEndpoints().getFirst().port());
        assertEquals(Set.of("efuse-csi-controller-metrics", "efuse-csi-node-metrics", "efuse-csi-fsd-metrics"),
                chart.objects.stream().filter(o -> o.getKind().equals("Service"))
                        .map(o -> o.getMetadata().getName()).collect(java.util.stream.Collectors.toSet()));
        assertTrue(rendered("microk8s.yaml").objects.stream().noneMatch(o -> o.getKind().equals("Service")));
    }

    @Test
    void dashboardConfigMapCarriesEveryDashboardOfTheChart() throws IOException {
        Set<String> files = new TreeSet<>();
        Path dir = RenderedChart.chart().resolve("dashboards");
        if (Files.isDirectory(dir)) {
            try (var s = Files.list(dir)) {
                s.filter(p -> p.toString().endsWith(".json")).forEach(p -> files.add(p.getFileName().toString()));
            }
        }
        var cm = rendered("everything.yaml").find(ConfigMap.class, c -> c.getMetadata().getName().endsWith("-dashboards"));
        assertEquals(files, cm.map(c -> new TreeSet<>(c.getData().keySet())).orElse(new TreeSet<>()));
        cm.ifPresent(c -> assertEquals("1", c.getMetadata().getLabels().get("grafana_dashboard")));
    }

    @Test
    void imageAndPullSecretsComeFromValues() {
        Container c = container(rendered("microk8s.yaml").one(Deployment.class, CONTROLLER).getSpec().getTemplate().getSpec(),
                "efuse-csi");
        assertEquals("registry.example.com/efuse-csi:0.1.0-test", c.getImage());
        assertEquals("registry-credentials", rendered("everything.yaml").one(DaemonSet.class, NODE).getSpec().getTemplate()
                .getSpec().getImagePullSecrets().getFirst().getName());
    }

    @Test
    void theLogLevelReachesEveryDriverContainerAsItsFlag() {
        RenderedChart chart = RenderedChart.render(null, Map.of("logLevel", "debug"));
        List<Container> driver = new ArrayList<>();
        driver.add(container(chart.one(Deployment.class, CONTROLLER).getSpec().getTemplate().getSpec(), "efuse-csi"));
        driver.add(container(chart.one(DaemonSet.class, NODE).getSpec().getTemplate().getSpec(), "efuse-csi"));
        driver.addAll(chart.one(DaemonSet.class, FSD).getSpec().getTemplate().getSpec().getContainers());
        assertTrue(driver.size() >= 3, driver::toString);
        for (Container c : driver) {
            assertTrue(c.getArgs().contains("--log-level=debug"), c.getName() + ": " + c.getArgs());
            String opts = c.getEnv().stream().filter(e -> e.getName().equals("JDK_JAVA_OPTIONS")).findFirst()
                    .orElseThrow().getValue();
            assertFalse(opts.contains("simpleLogger"), "the flag alone sets the level: " + opts);
        }
    }

    @Test
    void valuesOutsideTheSchemaAreRefused() {
        assertThrows(Exception.class, () -> RenderedChart.render(null, Map.of("logLevel", "loud")));
        assertThrows(Exception.class, () -> RenderedChart.render(null, Map.of("fsd.keeperSocket", "/tmp/keeper.sock")),
                "the socket must lie in the directory both DaemonSets share");
        assertThrows(Exception.class, () -> RenderedChart.render(null, Map.of("kubeletDir", "var/lib/kubelet")));
        assertThrows(Exception.class, () -> RenderedChart.render(null, Map.of("controller.replicas", 0)));
        assertThrows(Exception.class, () -> RenderedChart.render(null, Map.of("storageClasses.local.parameters.backend", "nfs")));
        assertThrows(Exception.class, () -> RenderedChart.render(null, Map.of("nodes.sharedRoot", "/x")));
        assertThrows(Exception.class, () -> RenderedChart.render(null, Map.of("storageClasses.local.parameters.tiers", "auto")));
        // the driver's other parameters pass
        RenderedChart inodes = RenderedChart.render(null, Map.of("storageClasses.local.parameters.inodes", "100000",
                "storageClasses.local.parameters.writebackCache", "true"));
        assertEquals("100000", inodes.one(StorageClass.class, "efuse-local").getParameters().get("inodes"));
    }

    static Map<String, PodSpec> podSpecs(RenderedChart chart) {
        Map<String, PodSpec> pods = new HashMap<>();
        chart.all(DaemonSet.class).forEach(d -> pods.put(d.getMetadata().getName(), d.getSpec().getTemplate().getSpec()));
        chart.all(Deployment.class).forEach(d -> pods.put(d.getMetadata().getName(), d.getSpec().getTemplate().getSpec()));
        return pods;
    }

    static Container container(PodSpec pod, String name) {
        return pod.getContainers().stream().filter(c -> c.getName().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no container " + name));
    }

    static VolumeMount mount(Container c, String volume) {
        return c.getVolumeMounts().stream().filter(m -> m.getName().equals(volume)).findFirst()
                .orElseThrow(() -> new AssertionError(c.getName() + " does not mount " + volume));
    }

    static Volume volume(PodSpec pod, String name) {
        return pod.getVolumes().stream().filter(v -> v.getName().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no volume " + name));
    }

    private static Set<String> verbs(ClusterRole role, String group, String resource) {
        return verbs(role.getRules(), group, resource);
    }

    private static Set<String> verbs(Role role, String group, String resource) {
        return verbs(role.getRules(), group, resource);
    }

    private static Set<String> verbs(List<PolicyRule> rules, String group, String resource) {
        return rules.stream()
                .filter(r -> r.getApiGroups().contains(group) && r.getResources().contains(resource))
                .flatMap(r -> r.getVerbs().stream()).collect(Collectors.toSet());
    }
}
