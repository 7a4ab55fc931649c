package io.efuse.csi.e2e.cluster;

import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolume;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.TypedLocalObjectReference;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.ExecWatch;
import io.fabric8.kubernetes.client.dsl.Resource;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * What users put into the cluster: a namespace per test, claims of the chart's StorageClasses and pods of the fio
 * image that use them. Pods run a script to completion (their log and exit code tell the result) or sleep and take
 * commands through exec.
 */
final class Workloads {

    static final String NAMESPACE_LABEL = "efuse.csi.io/e2e-cluster";
    static final String FIO_IMAGE = System.getProperty("cluster.fioImage", "localhost/efuse-cluster/fio:latest");
    static final String LOCAL = "efuse-local";
    static final String SHARED = "efuse-shared";
    static final Duration POD_BOUND = Duration.ofMinutes(Long.getLong("cluster.podMinutes", 4));

    /** Namespaces the running test made, for the diagnostics of a failure. */
    private static final Set<String> TOUCHED = new LinkedHashSet<>();

    private final KubernetesClient kube;
    final String ns;

    private Workloads(KubernetesClient kube, String ns) {
        this.kube = kube;
        this.ns = ns;
    }

    /** A new, empty namespace (one of an earlier run by that name is deleted first). */
    static Workloads namespace(KubernetesClient kube, String name) {
        if (kube.namespaces().withName(name).get() != null) {
            kube.namespaces().withName(name).delete();
            Wait.until("namespace " + name + " of an earlier run to go", Duration.ofMinutes(5),
                    () -> kube.namespaces().withName(name).get() == null);
        }
        kube.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(name)
                .addToLabels(NAMESPACE_LABEL, "true").endMetadata().build()).create();
        synchronized (TOUCHED) {
            TOUCHED.add(name);
        }
        return new Workloads(kube, name);
    }

    static List<String> touched() {
        synchronized (TOUCHED) {
            return new ArrayList<>(TOUCHED);
        }
    }

    /** Deletes the namespace and everything in it (its claims' volumes go with them), without waiting. */
    void delete() {
        kube.namespaces().withName(ns).delete();
        synchronized (TOUCHED) {
            TOUCHED.remove(ns);
        }
    }

    // --- claims -------------------------------------------------------------------------------------------------

    PersistentVolumeClaim claim(String name, String storageClass, String size, String accessMode) {
        return create(new PersistentVolumeClaimBuilder().withNewMetadata().withName(name).endMetadata()
                .withNewSpec().withStorageClassName(storageClass).withAccessModes(accessMode)
                .withNewResources().addToRequests("storage", new Quantity(size)).endResources().endSpec().build());
    }

    /** A claim made from a snapshot (kind VolumeSnapshot) or a clone of another claim (kind PersistentVolumeClaim). */
    PersistentVolumeClaim claimFrom(String name, String size, String kind, String source) {
        String group = kind.equals("VolumeSnapshot") ? "snapshot.storage.k8s.io" : null;
        return create(new PersistentVolumeClaimBuilder().withNewMetadata().withName(name).endMetadata()
                .withNewSpec().withStorageClassName(LOCAL).withAccessModes("ReadWriteOnce")
                .withDataSource(new TypedLocalObjectReference(group, kind, source))
                .withNewResources().addToRequests("storage", new Quantity(size)).endResources().endSpec().build());
    }

    private PersistentVolumeClaim create(PersistentVolumeClaim claim) {
        return kube.persistentVolumeClaims().inNamespace(ns).resource(claim).create();
    }

    PersistentVolumeClaim claim(String name) {
        return kube.persistentVolumeClaims().inNamespace(ns).withName(name).get();
    }

    Resource<PersistentVolumeClaim> claimResource(String name) {
        return kube.persistentVolumeClaims().inNamespace(ns).withName(name);
    }

    PersistentVolumeClaim awaitBound(String claim) {
        return Wait.until("claim " + ns + "/" + claim + " to be Bound", POD_BOUND, () -> claim(claim),
                c -> c != null && c.getStatus() != null && "Bound".equals(c.getStatus().getPhase()),
                c -> "phase " + c.getStatus().getPhase() + ", events: " + Diagnostics.eventsOf(kube, ns, claim));
    }

    /** The bound volume of a claim (its CSI volume handle is the driver's volume id). */
    PersistentVolume volume(String claim) {
        String pv = awaitBound(claim).getSpec().getVolumeName();
        return kube.persistentVolumes().withName(pv).get();
    }

    String volumeId(String claim) {
        return volume(claim).getSpec().getCsi().getVolumeHandle();
    }

    // --- pods ---------------------------------------------------------------------------------------------------

    /** A pod that sleeps with the claims mounted at /data (the first), /data2, …, waiting for exec. */
    Pod sleeper(String name, String... claims) {
        return pod(name, "Always", "exec sleep infinity", claims);
    }

    /** A pod that runs the script once; its log and exit code are the result. */
    Pod runner(String name, String script, String... claims) {
        return pod(name, "Never", script, claims);
    }

    private Pod pod(String name, String restartPolicy, String script, String... claims) {
        var spec = new PodBuilder().withNewMetadata().withName(name).endMetadata().withNewSpec()
                .withRestartPolicy(restartPolicy).withTerminationGracePeriodSeconds(2L)
                .addNewContainer().withName("app").withImage(FIO_IMAGE)
                // the image is loaded into the node, never pulled: ":latest" would otherwise mean Always
                .withImagePullPolicy("IfNotPresent").withCommand("sh", "-c", script);
        for (int i = 0; i < claims.length; i++) {
            spec = spec.addNewVolumeMount().withName("v" + i).withMountPath(i == 0 ? "/data" : "/data" + (i + 1)).endVolumeMount();
        }
        var pod = spec.endContainer();
        for (int i = 0; i < claims.length; i++) {
            pod = pod.addNewVolume().withName("v" + i).withNewPersistentVolumeClaim().withClaimName(claims[i])
                    .endPersistentVolumeClaim().endVolume();
        }
        return kube.pods().inNamespace(ns).resource(pod.endSpec().build()).create();
    }

    /** A pod that sleeps with an inline volume of the driver at /data, made from the attributes (size, tier…). */
    Pod inlineSleeper(String name, java.util.Map<String, String> attributes) {
        var pod = new PodBuilder().withNewMetadata().withName(name).endMetadata().withNewSpec()
                .withRestartPolicy("Always").withTerminationGracePeriodSeconds(2L)
                .addNewContainer().withName("app").withImage(FIO_IMAGE).withImagePullPolicy("IfNotPresent")
                .withCommand("sh", "-c", "exec sleep infinity")
                .addNewVolumeMount().withName("scratch").withMountPath("/data").endVolumeMount().endContainer()
                .addNewVolume().withName("scratch").withNewCsi().withDriver(DriverRelease.DRIVER)
                .withVolumeAttributes(attributes).endCsi().endVolume();
        return kube.pods().inNamespace(ns).resource(pod.endSpec().build()).create();
    }

    Pod pod(String name) {
        return kube.pods().inNamespace(ns).withName(name).get();
    }

    Pod awaitRunning(String name) {
        return awaitRunning(name, POD_BOUND);
    }

    Pod awaitRunning(String name, Duration bound) {
        return Wait.until("pod " + ns + "/" + name + " to be Running and Ready", bound, () -> pod(name),
                p -> {
                    if (p != null && p.getStatus() != null && "Failed".equals(p.getStatus().getPhase())) {
                        throw new AssertionError("pod " + ns + "/" + name + " failed: " + describe(p));
                    }
                    return p != null && p.getStatus() != null && "Running".equals(p.getStatus().getPhase())
                            && p.getStatus().getConditions().stream()
                                    .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
                }, p -> describe(p) + "; events: " + Diagnostics.eventsOf(kube, ns, name));
    }

    /** Waits for a runner to end; returns its pod (phase Succeeded or Failed). */
    Pod awaitCompleted(String name, Duration bound) {
        return Wait.until("pod " + ns + "/" + name + " to complete", bound, () -> pod(name),
                p -> p != null && p.getStatus() != null
                        && ("Succeeded".equals(p.getStatus().getPhase()) || "Failed".equals(p.getStatus().getPhase())),
                p -> describe(p) + "; events: " + Diagnostics.eventsOf(kube, ns, name));
    }

    String log(String pod) {
        return kube.pods().inNamespace(ns).withName(pod).inContainer("app").getLog();
    }

    /** Deletes a pod and waits until it is gone, so that its volumes are unpublished and unstaged. */
    void deletePod(String name) {
        kube.pods().inNamespace(ns).withName(name).delete();
        Wait.until("pod " + ns + "/" + name + " to be gone", POD_BOUND, () -> pod(name),
                p -> p == null, Workloads::describe);
    }

    record Exec(int exitCode, String out, String err) {
        Exec orFail(String what) {
            if (exitCode != 0) {
                throw new AssertionError(what + " failed with exit " + exitCode + ":\n" + out + err);
            }
            return this;
        }
    }

    /** Runs a script in a running pod and returns what it printed and its exit code. */
    Exec exec(String pod, String script) {
        return exec(pod, script, Duration.ofMinutes(3));
    }

    Exec exec(String pod, String script, Duration bound) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try (ExecWatch watch = kube.pods().inNamespace(ns).withName(pod).inContainer("app")
                .writingOutput(out).writingError(err).exec("sh", "-c", script)) {
            int code = watch.exitCode().get(bound.toMillis(), TimeUnit.MILLISECONDS);
            return new Exec(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } catch (TimeoutException e) {
            throw new AssertionError("exec in " + ns + "/" + pod + " did not finish within " + bound + ": " + script
                    + "\nso far: " + out.toString(StandardCharsets.UTF_8) + err.toString(StandardCharsets.UTF_8), e);
        } catch (ExecutionException e) {
            throw new AssertionError("exec in " + ns + "/" + pod + " failed: " + e.getCause(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    /** The byte size that df reports for /data (statfs of the mount, as a user reads it). */
    long dfBytes(String pod, String dir) {
        String out = exec(pod, "df -B1 --output=size " + dir + " | tail -n 1").orFail("df " + dir).out().strip();
        return Long.parseLong(out);
    }

    static String describe(Pod p) {
        if (p == null) {
            return "absent";
        }
        StringBuilder s = new StringBuilder(p.getMetadata().getName());
        if (p.getStatus() == null) {
            return s.append(" (no status)").toString();
        }
        s.append(" phase ").append(p.getStatus().getPhase());
        if (p.getMetadata().getDeletionTimestamp() != null) {
            s.append(" terminating");
        }
        if (p.getStatus().getConditions() != null) {
            p.getStatus().getConditions().stream().filter(c -> !"True".equals(c.getStatus()))
                    .forEach(c -> s.append(", ").append(c.getType()).append('=').append(c.getStatus())
                            .append(c.getReason() != null ? " (" + c.getReason() + ")" : ""));
        }
        List<ContainerStatus> statuses = new ArrayList<>();
        if (p.getStatus().getInitContainerStatuses() != null) {
            statuses.addAll(p.getStatus().getInitContainerStatuses());
        }
        if (p.getStatus().getContainerStatuses() != null) {
            statuses.addAll(p.getStatus().getContainerStatuses());
        }
        for (ContainerStatus c : statuses) {
            s.append("; ").append(c.getName()).append(": restarts ").append(c.getRestartCount());
            var st = c.getState();
            if (st != null && st.getWaiting() != null) {
                s.append(", waiting ").append(st.getWaiting().getReason()).append(' ')
                        .append(st.getWaiting().getMessage() == null ? "" : st.getWaiting().getMessage());
            }
            if (st != null && st.getTerminated() != null) {
                s.append(", terminated exit ").append(st.getTerminated().getExitCode()).append(' ')
                        .append(st.getTerminated().getReason());
            }
            var last = c.getLastState();
            if (last != null && last.getTerminated() != null) {
                s.append(", last terminated exit ").append(last.getTerminated().getExitCode()).append(' ')
                        .append(last.getTerminated().getReason()).append(" at ").append(last.getTerminated().getFinishedAt());
            }
        }
        return s.toString();
    }
}
