package io.efuse.csi.e2e.cluster;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.LogWatch;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Follows the logs of the driver's containers from before a fault or an upgrade: a replaced pod's log is gone with
 * it, and what the old node plugin and daemon said while handing over is what a failure needs. The text is given to
 * the diagnostics, which print it if the test fails.
 */
final class LogCapture implements AutoCloseable {

    private record Followed(String title, ByteArrayOutputStream out, LogWatch watch) {
    }

    private final List<Followed> followed = new ArrayList<>();

    LogCapture(KubernetesClient kube, List<Pod> pods) {
        for (Pod p : pods) {
            for (var c : p.getSpec().getContainers()) {
                if (!c.getImage().startsWith(DriverRelease.REPOSITORY + ":")) {
                    continue;
                }
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                String title = p.getMetadata().getName() + " " + c.getName();
                try {
                    LogWatch watch = kube.pods().inNamespace(p.getMetadata().getNamespace()).withName(p.getMetadata().getName())
                            .inContainer(c.getName()).watchLog(out);
                    followed.add(new Followed(title, out, watch));
                } catch (RuntimeException e) {
                    System.out.println("cannot follow the log of " + title + ": " + e.getMessage());
                }
            }
        }
        Diagnostics.attach("followed logs of the driver", this::text);
    }

    String text() {
        StringBuilder s = new StringBuilder();
        for (Followed f : followed) {
            String log = f.out.toString(StandardCharsets.UTF_8);
            s.append("--- followed log of ").append(f.title).append('\n').append(log.stripTrailing()).append('\n');
        }
        return s.toString();
    }

    @Override
    public void close() {
        followed.forEach(f -> f.watch.close());
    }
}
