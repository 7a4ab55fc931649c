package io.efuse.csi.e2e.cluster;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.InstallCommand;
import com.marcnuri.helm.Release;
import com.marcnuri.helm.UpgradeCommand;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Assumptions;

/**
 * The chart of charts/efuse-csi installed once per test run into the cluster, with the driver image of this build.
 * The scenario classes share it; the install test makes it (and times it), the uninstall test removes it. A class
 * run on its own installs it if no earlier class did.
 */
final class DriverRelease {

    static final String NAMESPACE = "efuse-system";
    static final String NAME = "efuse-csi";
    static final String DRIVER = "efuse.csi.io";
    static final String TOPOLOGY_KEY = "topology.efuse.csi.io/node";
    static final String REPOSITORY = System.getProperty("cluster.imageRepository", "efuse-csi");
    static final String FIRST_TAG = "cluster-1";
    static final String UPGRADE_TAG = "cluster-2";
    static final String NODE_DS = NAME + "-node";
    static final String FSD_DS = NAME + "-fsd";
    static final String CONTROLLER = NAME + "-controller";
    static final int NODE_METRICS_PORT = 9808;
    /**
     * The node keeps its backing root on a btrfs pool on this image file, so that the suite's claims are btrfs
     * subvolumes by the node's own choice, and images and directories are there to ask for.
     */
    static final String POOL_IMAGE = "/var/lib/efuse/pool.img";
    static final String POOL_SIZE = "4Gi";

    private static DriverRelease installed;
    private static String broken;
    private static boolean imageLoaded;
    private static Path chartCopy;

    final TestCluster cluster;
    final KubernetesClient kube;
    private String tag = FIRST_TAG;

    private DriverRelease(TestCluster cluster) {
        this.cluster = cluster;
        this.kube = cluster.kube;
    }

    /** The installed release, installing it when no test of this run did; aborts when the install failed. */
    static synchronized DriverRelease require() {
        Assumptions.assumeTrue(broken == null, () -> "the chart is not installed: " + broken);
        if (installed == null) {
            try {
                DriverRelease r = prepare();
                r.install();
                r.awaitReady(Duration.ofMinutes(5));
                installed = r;
            } catch (RuntimeException | AssertionError e) {
                broken = e.toString();
                throw e;
            }
        }
        return installed;
    }

    /** Removes what an earlier run may have left and loads the image, so that the next install starts clean. */
    static synchronized DriverRelease prepare() {
        TestCluster cluster = TestCluster.require();
        DriverRelease r = new DriverRelease(cluster);
        r.removeLeftovers();
        loadImage(cluster);
        return r;
    }

    static synchronized void installedBy(DriverRelease r) {
        installed = r;
        broken = null;
    }

    static synchronized void failed(Throwable cause) {
        broken = cause.toString();
    }

    static synchronized void uninstalled() {
        installed = null;
        broken = "it was uninstalled by an earlier test";
    }

    String image() {
        return REPOSITORY + ":" + tag;
    }

    Release install() {
        System.out.println("helm install " + NAME + " " + chart() + " -n " + NAMESPACE + " -f " + cluster.values
                + " --set image.repository=" + REPOSITORY + ",image.tag=" + tag + ",inlineVolumes.enabled=true"
                + ",node.storage.btrfsPool.image=" + POOL_IMAGE + ",node.storage.btrfsPool.size=" + POOL_SIZE);
        // Inline volumes are off by default; the suite turns them on for InlineVolumeTest, and every upgrade keeps
        // them on, since helm upgrade starts again from the values it is given.
        InstallCommand install = new Helm(chart()).install().withName(NAME).withNamespace(NAMESPACE).createNamespace()
                .withKubeConfig(cluster.kubeconfig).withValuesFile(cluster.values)
                .set("image.repository", REPOSITORY).set("image.tag", tag).set("inlineVolumes.enabled", true)
                .set("node.storage.btrfsPool.image", POOL_IMAGE).set("node.storage.btrfsPool.size", POOL_SIZE)
                .withTimeout(300);
        return install.call();
    }

    /** Upgrades to another image tag; returns at once, without waiting for the rollout. */
    Release upgradeTo(String newTag) {
        System.out.println("helm upgrade " + NAME + " to image tag " + newTag);
        UpgradeCommand upgrade = new Helm(chart()).upgrade().withName(NAME).withNamespace(NAMESPACE)
                .withKubeConfig(cluster.kubeconfig).withValuesFile(cluster.values)
                .set("image.repository", REPOSITORY).set("image.tag", newTag).set("inlineVolumes.enabled", true)
                .set("node.storage.btrfsPool.image", POOL_IMAGE).set("node.storage.btrfsPool.size", POOL_SIZE)
                .withTimeout(300);
        Release r = upgrade.call();
        tag = newTag;
        return r;
    }

    void uninstall() {
        System.out.println("helm uninstall " + NAME + " -n " + NAMESPACE);
        Helm.uninstall(NAME).withNamespace(NAMESPACE).withKubeConfig(cluster.kubeconfig).call();
    }

    boolean exists() {
        return Helm.list().withNamespace(NAMESPACE).withKubeConfig(cluster.kubeconfig).all().call().stream()
                .anyMatch(r -> NAME.equals(r.getName()));
    }

    /**
     * The chart of this checkout as it was when the run began (-Dcluster.chart names another directory, e.g. a copy
     * with a fix being tried): install and upgrade use one copy, which matches the image built at the start, however
     * the work tree changes during the run.
     */
    static synchronized Path chart() {
        if (chartCopy == null) {
            String other = System.getProperty("cluster.chart", "");
            Path source = other.isBlank() ? TestCluster.repo().resolve("charts/efuse-csi") : Path.of(other);
            Path copy = TestCluster.repo().resolve("e2e/target/cluster-chart/efuse-csi");
            try {
                if (Files.exists(copy)) {
                    try (var old = Files.walk(copy)) {
                        for (Path p : old.sorted(java.util.Comparator.reverseOrder()).toList()) {
                            Files.delete(p);
                        }
                    }
                }
                try (var files = Files.walk(source)) {
                    for (Path p : files.toList()) {
                        Path target = copy.resolve(source.relativize(p).toString());
                        if (Files.isDirectory(p)) {
                            Files.createDirectories(target);
                        } else {
                            Files.copy(p, target);
                        }
                    }
                }
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException("cannot copy the chart " + source + " to " + copy, e);
            }
            chartCopy = copy;
        }
        return chartCopy;
    }

    /** Every pod of the release Ready, each workload rolled out to the current image, the driver registered. */
    void awaitReady(Duration bound) {
        Wait.until("every pod of the release Ready on image " + image(), bound, this::rolloutState, s -> s.isEmpty());
        Wait.until("CSINode " + TestCluster.NODE + " to list " + DRIVER, bound,
                () -> kube.storage().v1().csiNodes().withName(TestCluster.NODE).get(),
                n -> n != null && n.getSpec().getDrivers() != null
                        && n.getSpec().getDrivers().stream().anyMatch(d -> DRIVER.equals(d.getName())),
                n -> "drivers " + n.getSpec().getDrivers());
    }

    /** What is not rolled out yet, as text; empty when everything is. */
    String rolloutState() {
        StringBuilder pending = new StringBuilder();
        for (String ds : List.of(NODE_DS, FSD_DS)) {
            DaemonSet d = kube.apps().daemonSets().inNamespace(NAMESPACE).withName(ds).get();
            if (d == null) {
                pending.append(ds).append(" absent; ");
                continue;
            }
            var s = d.getStatus();
            if (s == null || s.getDesiredNumberScheduled() == null || s.getDesiredNumberScheduled() == 0
                    || !s.getDesiredNumberScheduled().equals(s.getNumberReady())
                    || !s.getDesiredNumberScheduled().equals(s.getUpdatedNumberScheduled())
                    || !s.getDesiredNumberScheduled().equals(s.getCurrentNumberScheduled())
                    || s.getNumberUnavailable() != null && s.getNumberUnavailable() > 0
                    || !d.getMetadata().getGeneration().equals(s.getObservedGeneration())) {
                pending.append(ds).append(' ').append(s).append("; ");
            }
        }
        Deployment c = kube.apps().deployments().inNamespace(NAMESPACE).withName(CONTROLLER).get();
        if (c == null) {
            pending.append(CONTROLLER).append(" absent; ");
        } else {
            var s = c.getStatus();
            int want = c.getSpec().getReplicas();
            if (s == null || s.getReadyReplicas() == null || s.getReadyReplicas() != want
                    || s.getUpdatedReplicas() == null || s.getUpdatedReplicas() != want
                    || s.getReplicas() == null || s.getReplicas() != want
                    || !c.getMetadata().getGeneration().equals(s.getObservedGeneration())) {
                pending.append(CONTROLLER).append(' ').append(s).append("; ");
            }
        }
        for (Pod p : pods()) {
            boolean ready = p.getStatus() != null && p.getStatus().getConditions() != null && p.getStatus().getConditions()
                    .stream().anyMatch(x -> "Ready".equals(x.getType()) && "True".equals(x.getStatus()));
            boolean current = p.getSpec().getContainers().stream().filter(x -> x.getImage().startsWith(REPOSITORY + ":"))
                    .allMatch(x -> x.getImage().equals(image()));
            if (!ready || !current || p.getMetadata().getDeletionTimestamp() != null) {
                pending.append("pod ").append(p.getMetadata().getName()).append(ready ? "" : " not ready")
                        .append(current ? "" : " on an old image")
                        .append(p.getMetadata().getDeletionTimestamp() != null ? " terminating" : "").append("; ");
            }
        }
        return pending.toString();
    }

    List<Pod> pods() {
        return kube.pods().inNamespace(NAMESPACE).withLabel("app.kubernetes.io/instance", NAME).list().getItems();
    }

    /** The one live pod of a component (node, fsd, controller) on the node. */
    Pod pod(String component) {
        List<Pod> live = kube.pods().inNamespace(NAMESPACE).withLabel("app.kubernetes.io/instance", NAME)
                .withLabel("app.kubernetes.io/component", component).list().getItems().stream()
                .filter(p -> p.getMetadata().getDeletionTimestamp() == null).toList();
        if (live.size() != 1) {
            throw new IllegalStateException("expected one live " + component + " pod, found "
                    + live.stream().map(p -> p.getMetadata().getName()).collect(Collectors.joining(", ")));
        }
        return live.getFirst();
    }

    private static void loadImage(TestCluster cluster) {
        if (imageLoaded) {
            return;
        }
        Path jar = TestCluster.repo().resolve("csi-driver/target/efuse-csi.jar");
        if (!Files.isRegularFile(jar)) {
            throw new IllegalStateException(jar + " is missing: build the driver first (./mvnw -pl e2e -am -Pcluster"
                    + " builds it in the same reactor)");
        }
        chart();
        String first = REPOSITORY + ":" + FIRST_TAG;
        long start = System.nanoTime();
        Shell.Result built = Shell.run(Duration.ofMinutes(30), TestCluster.repo().resolve("images/build-driver-image").toString(), first)
                .orFail("images/build-driver-image " + first);
        System.out.print(built.out());
        // the upgrade test moves the release to a second tag of the same image: a new pod template, the same bits
        String second = REPOSITORY + ":" + UPGRADE_TAG;
        Shell.run(Duration.ofMinutes(1), "docker", "tag", first, second).orFail("docker tag " + first + " " + second);
        cluster.loadImages(first, second);
        System.out.printf("driver image %s built and loaded into the node in %.0f s%n", first, (System.nanoTime() - start) / 1e9);
        imageLoaded = true;
    }

    /**
     * A release or test namespaces of an earlier run: the namespaces go first, while the driver still runs to
     * delete their volumes, then the release.
     */
    private void removeLeftovers() {
        // a release of someone else's (another name or namespace) would own the cluster-wide objects: not ours to remove
        List<String> others = Helm.list().allNamespaces().all().withKubeConfig(cluster.kubeconfig).call().stream()
                .filter(r -> r.getChart() != null && r.getChart().startsWith("efuse-csi-"))
                .filter(r -> !(NAME.equals(r.getName()) && NAMESPACE.equals(r.getNamespace())))
                .map(r -> r.getName() + " in " + r.getNamespace() + " (" + r.getStatus() + ")").toList();
        if (!others.isEmpty()) {
            throw new IllegalStateException("the cluster has another release of the chart, " + others
                    + ": the suite installs its own and needs the cluster to itself (helm uninstall it first)");
        }
        var leftovers = kube.namespaces().withLabel(Workloads.NAMESPACE_LABEL).list().getItems();
        if (!leftovers.isEmpty()) {
            System.out.println("removing test namespaces of an earlier run: "
                    + leftovers.stream().map(n -> n.getMetadata().getName()).toList());
            kube.namespaces().withLabel(Workloads.NAMESPACE_LABEL).delete();
            Wait.until("test namespaces of an earlier run to go", Duration.ofMinutes(5),
                    () -> kube.namespaces().withLabel(Workloads.NAMESPACE_LABEL).list().getItems().stream()
                            .map(n -> n.getMetadata().getName()).toList(), List::isEmpty);
        }
        if (exists()) {
            System.out.println("removing the release of an earlier run");
            Wait.until("volumes of an earlier run to be deleted", Duration.ofMinutes(5),
                    () -> kube.persistentVolumes().list().getItems().stream()
                            .filter(pv -> pv.getSpec().getCsi() != null && DRIVER.equals(pv.getSpec().getCsi().getDriver()))
                            .map(pv -> pv.getMetadata().getName()).toList(), List::isEmpty);
            uninstall();
        }
        Wait.until("pods of an earlier release to go", Duration.ofMinutes(3),
                () -> pods().stream().map(p -> p.getMetadata().getName()).toList(), List::isEmpty);
    }
}
