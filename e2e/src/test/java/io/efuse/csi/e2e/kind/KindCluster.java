package io.efuse.csi.e2e.kind;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * A kind cluster for the tests: the one KUBECONFIG points at (a CI job that created it), or one made here with
 * the kind CLI, deleted again at the end. Where kind cannot start a cluster (no kind, no docker, no registry
 * for the node image) the tests are skipped with kind's own words.
 */
final class KindCluster implements AutoCloseable {

    static final String NAME = System.getProperty("kind.cluster", "efuse-e2e");

    final Path kubeconfig;
    private final boolean created;

    private KindCluster(Path kubeconfig, boolean created) {
        this.kubeconfig = kubeconfig;
        this.created = created;
    }

    static KindCluster startOrSkip() throws IOException {
        if (Boolean.getBoolean("kind.reuse")) {
            String env = System.getenv("KUBECONFIG");
            Path existing = env != null && !env.isBlank() ? Path.of(env)
                    : Path.of(System.getProperty("user.home"), ".kube", "config");
            Assumptions.assumeTrue(Files.isRegularFile(existing), "kind.reuse is set but there is no kubeconfig at " + existing);
            return new KindCluster(existing, false);
        }
        Assumptions.assumeTrue(run(Duration.ofSeconds(20), "kind", "version").ok(),
                "the kind CLI is not installed: the kind tests run on a CI runner that has it (.github/workflows/kind.yml)");
        Path kubeconfig = Files.createTempFile("efuse-kind-", ".kubeconfig");
        Result create = run(Duration.ofMinutes(6), "kind", "create", "cluster", "--name", NAME,
                "--kubeconfig", kubeconfig.toString(), "--wait", "180s");
        if (!create.ok()) {
            run(Duration.ofMinutes(2), "kind", "delete", "cluster", "--name", NAME);
            Assumptions.abort("kind cannot start a cluster here (its node image must come from a registry): "
                    + tail(create.output()));
        }
        return new KindCluster(kubeconfig, true);
    }

    void load(String image) {
        Result load = run(Duration.ofMinutes(5), "kind", "load", "docker-image", image, "--name", NAME);
        if (!load.ok()) {
            throw new IllegalStateException("kind load docker-image " + image + ": " + tail(load.output()));
        }
    }

    @Override
    public void close() {
        if (created) {
            run(Duration.ofMinutes(3), "kind", "delete", "cluster", "--name", NAME);
        }
    }

    record Result(int exitCode, String output) {
        boolean ok() {
            return exitCode == 0;
        }
    }

    static Result run(Duration bound, String... command) {
        try {
            Path out = Files.createTempFile("efuse-kind-", ".log");
            Process p = new ProcessBuilder(new ArrayList<>(List.of(command))).redirectErrorStream(true)
                    .redirectOutput(out.toFile()).start();
            if (!p.waitFor(bound.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                return new Result(-1, String.join(" ", command) + " did not finish within " + bound);
            }
            String text = Files.readString(out);
            Files.deleteIfExists(out);
            return new Result(p.exitValue(), text);
        } catch (IOException e) {
            return new Result(-1, String.join(" ", command) + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Result(-1, "interrupted");
        }
    }

    private static String tail(String text) {
        List<String> lines = text.lines().toList();
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 8), lines.size()));
    }
}
