package io.efuse.csi.e2e.node;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.exception.NotFoundException;
import com.github.dockerjava.api.model.Container;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Predicate;
import org.junit.jupiter.api.extension.AfterTestExecutionCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.testcontainers.DockerClientFactory;

/**
 * Removal of the containers the tests start, since Ryuk, Testcontainers' own reaper, is off (its image cannot be
 * pulled here). Every container carries {@value #LABEL}=1 and the identity of the JVM that started it. As an
 * extension, it removes a test's containers as soon as the test method ends, passed or failed (before the
 * test's {@code @AfterEach} unmounts the host directories under them), printing their last output on failure;
 * {@link #removeLeftovers()} removes those of a JVM that is gone, a run killed before its teardown.
 */
final class OwnedContainers implements AfterTestExecutionCallback {

    static final String LABEL = "efuse.test";
    private static final String OWNER_LABEL = "efuse.test.owner";
    private static final String CASE_LABEL = "efuse.test.case";
    private static final String OWNER = owner(ProcessHandle.current());

    private final List<NodeContainer> started = new ArrayList<>();
    private final String caseId = UUID.randomUUID().toString();

    /** The labels of every container this JVM starts, Testcontainers' and the docker CLI's one-shots. */
    static Map<String, String> ownerLabels() {
        return Map.of(LABEL, "1", OWNER_LABEL, OWNER);
    }

    /** Registers a container, before it starts, for removal when the current test ends. */
    NodeContainer add(NodeContainer container) {
        started.add(container);
        return container.withLabel(CASE_LABEL, caseId);
    }

    @Override
    public void afterTestExecution(ExtensionContext context) {
        boolean failed = context.getExecutionException().isPresent();
        // in reverse order of start: the node plugin before the fs daemon that it hands its sessions to, so that
        // with the daemon still there it unstages nothing on its way out
        List<NodeContainer> reversed = started.reversed();
        if (failed) {
            for (NodeContainer c : reversed) {
                try {
                    if (c.getContainerId() != null) {
                        System.out.println("--- last log lines of " + c.name() + "\n" + c.logTail(40));
                    }
                } catch (RuntimeException e) {
                    System.out.println("--- no log lines of " + c.name() + ": " + e);
                }
            }
        }
        for (NodeContainer c : reversed) {
            try {
                c.stop();
            } catch (RuntimeException e) {
                System.err.println("Testcontainers could not remove " + c.name() + ": " + e);
            }
        }
        started.clear();
        // Testcontainers' stop() swallows its errors, and a start that failed half-way leaves it no id: whatever
        // still carries this test's label goes, or the test fails
        List<String> left = remove(Map.of(CASE_LABEL, caseId), owner -> true, false);
        if (!left.isEmpty()) {
            throw new IllegalStateException("containers of this test could not be removed: " + left);
        }
    }

    /** Removes the labelled containers whose JVM is no longer running; those of a concurrent run stay. */
    static void removeLeftovers() {
        List<String> left = remove(Map.of(LABEL, "1"), owner -> owner == null || !running(owner), true);
        if (!left.isEmpty()) {
            throw new IllegalStateException("containers left by an earlier run could not be removed: " + left);
        }
    }

    /** Force-removes the containers with these labels whose owner label matches; returns those that stayed. */
    private static List<String> remove(Map<String, String> labels, Predicate<String> owner, boolean say) {
        DockerClient docker = DockerClientFactory.instance().client();
        List<String> failed = new ArrayList<>();
        for (Container c : docker.listContainersCmd().withShowAll(true).withLabelFilter(labels).exec()) {
            if (!owner.test(c.getLabels().get(OWNER_LABEL))) {
                continue;
            }
            String name = String.join(",", c.getNames()).replace("/", "") + " (" + c.getId().substring(0, 12) + ")";
            if (say) {
                String by = c.getLabels().get(OWNER_LABEL);
                System.out.println("removing " + name + ", left by " + (by == null ? "a test run that did not say which"
                        : "the test run " + by + ", which is no longer running"));
            }
            try {
                docker.removeContainerCmd(c.getId()).withForce(true).withRemoveVolumes(true).exec();
            } catch (NotFoundException gone) {
                // removed meanwhile
            } catch (RuntimeException e) {
                failed.add(name + ": " + e.getMessage());
            }
        }
        return failed;
    }

    /** pid@start, since a pid alone may have been reused by now; the pid alone where the start is unknown. */
    private static String owner(ProcessHandle process) {
        return process.pid() + process.info().startInstant().map(start -> "@" + start.toEpochMilli()).orElse("");
    }

    private static boolean running(String owner) {
        try {
            long pid = Long.parseLong(owner.split("@", 2)[0]);
            return ProcessHandle.of(pid).map(OwnedContainers::owner).filter(owner::equals).isPresent();
        } catch (NumberFormatException malformed) {
            return false;
        }
    }
}
