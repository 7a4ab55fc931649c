package io.efuse.csi.e2e.cluster;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;
import java.util.List;
import java.util.Objects;
import java.util.stream.Collectors;
import org.junit.jupiter.api.extension.AfterTestExecutionCallback;
import org.junit.jupiter.api.extension.BeforeTestExecutionCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.LifecycleMethodExecutionExceptionHandler;

/**
 * When a test fails, prints what a CI log needs to tell the story: the state of every pod of the release and of the
 * test's namespaces with their events, the driver's container logs (and those of a container that restarted), the
 * claims and the node's eFuse mounts. It runs before the test's own clean-up, which deletes its namespaces.
 */
final class Diagnostics implements BeforeTestExecutionCallback, AfterTestExecutionCallback,
        LifecycleMethodExecutionExceptionHandler {

    private static final int DRIVER_LOG_LINES = Integer.getInteger("cluster.diagnosticLogLines", 150);
    private static final int EVENTS = Integer.getInteger("cluster.diagnosticEvents", 30);

    /** What the running test collected for a failure report (e.g. logs of pods that are gone by now). */
    private static final Map<String, Supplier<String>> ATTACHED = new LinkedHashMap<>();

    static synchronized void attach(String title, Supplier<String> text) {
        ATTACHED.put(title, text);
    }

    @Override
    public void beforeTestExecution(ExtensionContext context) {
        synchronized (Diagnostics.class) {
            ATTACHED.clear();
        }
    }

    @Override
    public void afterTestExecution(ExtensionContext context) {
        context.getExecutionException().ifPresent(failure -> report(context, failure));
    }

    @Override
    public void handleBeforeAllMethodExecutionException(ExtensionContext context, Throwable failure) throws Throwable {
        report(context, failure);
        throw failure;
    }

    @Override
    public void handleBeforeEachMethodExecutionException(ExtensionContext context, Throwable failure) throws Throwable {
        report(context, failure);
        throw failure;
    }

    private static void report(ExtensionContext context, Throwable failure) {
        if (failure instanceof org.opentest4j.TestAbortedException) {
            return;
        }
        System.out.println("==== diagnostics of " + context.getDisplayName() + ": " + failure);
        try {
            print(TestCluster.require());
        } catch (RuntimeException | AssertionError e) {
            System.out.println("(no diagnostics: " + e + ")");
        }
        synchronized (Diagnostics.class) {
            ATTACHED.forEach((title, text) -> safely(() -> System.out.println("--- " + title + "\n" + text.get())));
        }
        System.out.println("==== end of diagnostics");
    }

    static void print(TestCluster cluster) {
        KubernetesClient kube = cluster.kube;
        for (String ns : namespaces()) {
            System.out.println("--- namespace " + ns);
            safely(() -> kube.pods().inNamespace(ns).list().getItems()
                    .forEach(p -> System.out.println("pod " + Workloads.describe(p))));
            safely(() -> kube.persistentVolumeClaims().inNamespace(ns).list().getItems()
                    .forEach(c -> System.out.println("claim " + c.getMetadata().getName() + " " + c.getStatus().getPhase()
                            + " volume " + c.getSpec().getVolumeName() + " capacity "
                            + (c.getStatus().getCapacity() == null ? null : c.getStatus().getCapacity().get("storage"))
                            + " modify " + c.getStatus().getModifyVolumeStatus())));
            safely(() -> {
                List<Event> events = events(kube, ns);
                events.subList(Math.max(0, events.size() - EVENTS), events.size())
                        .forEach(e -> System.out.println("event " + format(e)));
            });
        }
        safely(() -> {
            for (Pod p : kube.pods().inNamespace(DriverRelease.NAMESPACE).list().getItems()) {
                for (Container c : p.getSpec().getContainers()) {
                    printLog(kube, p, c.getName(), false);
                    boolean restarted = p.getStatus().getContainerStatuses() != null && p.getStatus().getContainerStatuses()
                            .stream().filter(s -> s.getName().equals(c.getName()))
                            .mapToInt(ContainerStatus::getRestartCount).sum() > 0;
                    if (restarted) {
                        printLog(kube, p, c.getName(), true);
                    }
                }
            }
        });
        for (String ns : Workloads.touched()) {
            safely(() -> kube.pods().inNamespace(ns).list().getItems().forEach(p -> printLog(kube, p, "app", false)));
        }
        safely(() -> System.out.println("--- node: eFuse mounts\n"
                + cluster.nodeExec(Duration.ofSeconds(30), "findmnt", "-t", "fuse.efuse").output()));
        safely(() -> System.out.println("--- EfuseVolumes\n" + kube.genericKubernetesResources("efuse.csi.io/v1alpha1", "EfuseVolume")
                .list().getItems().stream().map(v -> v.getMetadata().getName() + " " + v.getAdditionalProperties().get("status"))
                .collect(Collectors.joining("\n"))));
    }

    private static List<String> namespaces() {
        List<String> all = new java.util.ArrayList<>(List.of(DriverRelease.NAMESPACE, "kube-system"));
        all.addAll(Workloads.touched());
        return all;
    }

    private static void printLog(KubernetesClient kube, Pod p, String container, boolean previous) {
        String ns = p.getMetadata().getNamespace();
        String name = p.getMetadata().getName();
        try {
            var pod = kube.pods().inNamespace(ns).withName(name).inContainer(container);
            String log = previous ? pod.terminated().tailingLines(DRIVER_LOG_LINES).getLog()
                    : pod.tailingLines(DRIVER_LOG_LINES).getLog();
            System.out.println("--- log of " + ns + "/" + name + " " + container + (previous ? " (before its restart)" : "")
                    + "\n" + (log == null ? "" : log.stripTrailing()));
        } catch (RuntimeException e) {
            System.out.println("--- no log of " + ns + "/" + name + " " + container + ": " + e.getMessage());
        }
    }

    static List<Event> events(KubernetesClient kube, String ns) {
        return kube.v1().events().inNamespace(ns).list().getItems().stream()
                .sorted(Comparator.comparing(Diagnostics::when, Comparator.nullsFirst(Comparator.naturalOrder()))).toList();
    }

    /** The events of one object, compactly, for a wait's message. */
    static String eventsOf(KubernetesClient kube, String ns, String object) {
        try {
            return events(kube, ns).stream().filter(e -> object.equals(e.getInvolvedObject().getName()))
                    .map(Diagnostics::format).collect(Collectors.joining(" | "));
        } catch (RuntimeException e) {
            return "(cannot list events: " + e.getMessage() + ")";
        }
    }

    private static String when(Event e) {
        if (e.getLastTimestamp() != null) {
            return e.getLastTimestamp();
        }
        if (e.getEventTime() != null) {
            return e.getEventTime().getTime();
        }
        return e.getMetadata().getCreationTimestamp();
    }

    private static String format(Event e) {
        return Objects.toString(when(e), "?") + " " + e.getType() + " " + e.getReason() + " "
                + e.getInvolvedObject().getKind() + "/" + e.getInvolvedObject().getName() + ": " + e.getMessage()
                + (e.getCount() != null && e.getCount() > 1 ? " (x" + e.getCount() + ")" : "");
    }

    private static void safely(Runnable r) {
        try {
            r.run();
        } catch (RuntimeException e) {
            System.out.println("(diagnostics step failed: " + e + ")");
        }
    }
}
