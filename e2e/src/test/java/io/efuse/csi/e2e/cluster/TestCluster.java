package io.efuse.csi.e2e.cluster;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * The single-node cluster of e2e/cluster: brought up (or found up) by its `up` script, whose last line of output
 * is the kubeconfig, and reached on its node through `node-exec` and `load-image`. One per test run.
 */
final class TestCluster {

    static final String NODE = "efuse-node";
    /** Building the cluster's components from source takes long on two cores; a warm `up` takes seconds. */
    private static final Duration UP_BOUND = Duration.ofMinutes(Long.getLong("cluster.upMinutes", 60));

    private static TestCluster shared;
    private static String unusable;
    private static String failure;

    final Path kubeconfig;
    final Path values;
    final KubernetesClient kube;

    private TestCluster(Path kubeconfig) throws IOException {
        this.kubeconfig = kubeconfig;
        this.values = kubeconfig.resolveSibling("values.yaml");
        Config config = Config.fromKubeconfig(Files.readString(kubeconfig));
        config.setClientKeyAlgo(keyAlgorithm(config.getClientKeyData()));
        // exec streams of fio runs and log reads of busy pods outlast the default timeouts on a loaded machine
        config.setRequestTimeout(120_000);
        config.setConnectionTimeout(30_000);
        this.kube = new KubernetesClientBuilder().withConfig(config).build();
    }

    /**
     * fabric8 takes a PKCS#8 client key ("BEGIN PRIVATE KEY") for RSA unless told otherwise, and the cluster's keys
     * are EC: the algorithm is read from the key itself.
     */
    private static String keyAlgorithm(String keyData) {
        if (keyData == null) {
            return null;
        }
        String pem = new String(Base64.getDecoder().decode(keyData.strip()), StandardCharsets.US_ASCII);
        if (pem.contains("BEGIN EC PRIVATE KEY")) {
            return "EC";
        }
        if (!pem.contains("BEGIN PRIVATE KEY")) {
            return "RSA";
        }
        byte[] der = Base64.getMimeDecoder().decode(pem.replaceAll("-----[A-Z ]+-----", ""));
        for (String algorithm : List.of("RSA", "EC")) {
            try {
                KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(der));
                return algorithm;
            } catch (GeneralSecurityException e) {
                // not this algorithm
            }
        }
        return "RSA";
    }

    static Path repo() {
        return Path.of(System.getProperty("efuse.repo", "..")).toAbsolutePath().normalize();
    }

    /**
     * The cluster, up and with its node Ready. Skips the calling test, saying why, where the machine cannot run
     * one (no docker engine, not root); a cluster that fails to come up is a failure, not a skip.
     */
    static synchronized TestCluster require() {
        Assumptions.assumeTrue(unusable == null, unusable);
        if (shared != null) {
            return shared;
        }
        if (failure != null) {
            throw new IllegalStateException("the cluster did not come up earlier in this run: " + failure);
        }
        try {
            shared = start();
            return shared;
        } catch (RuntimeException | AssertionError e) {
            failure = e.toString();
            throw e;
        }
    }

    private static TestCluster start() {
        String reason = machineCannotRunCluster();
        if (reason != null) {
            unusable = reason;
            Assumptions.abort(reason);
        }
        Path up = repo().resolve("e2e/cluster/up");
        if (!Files.isExecutable(up)) {
            throw new IllegalStateException(up + " is missing or not executable");
        }
        long start = System.nanoTime();
        Path kubeconfig = Path.of(up(up));
        if (!Files.isRegularFile(kubeconfig)) {
            throw new IllegalStateException("e2e/cluster/up named " + kubeconfig + " as the kubeconfig, which does not exist");
        }
        try {
            TestCluster c = new TestCluster(kubeconfig);
            Wait.until("node " + NODE + " to be Ready", Duration.ofMinutes(5),
                    () -> c.kube.nodes().withName(NODE).get(), TestCluster::ready);
            System.out.printf("cluster: up in %.0f s, kubeconfig %s%n", (System.nanoTime() - start) / 1e9, kubeconfig);
            return c;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static boolean ready(Node n) {
        return n != null && n.getStatus() != null && n.getStatus().getConditions() != null
                && n.getStatus().getConditions().stream()
                        .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
    }

    private static String machineCannotRunCluster() {
        String uid = effectiveUid();
        if (!uid.equals("0")) {
            return "the cluster suite runs as root (its node is a privileged container and it reads the node's mounts);"
                    + " the effective uid is " + uid;
        }
        Shell.Result info = Shell.run(Duration.ofSeconds(30), "docker", "info", "--format", "{{.ServerVersion}}");
        if (info.exitCode() != 0) {
            return "no docker engine answers (docker info: " + info.output().strip()
                    + "); the cluster suite needs one (.ci/start-dockerd starts it)";
        }
        return null;
    }

    /** The uid the kernel checks (the second of /proc/self/status's "Uid:"); user.name says who logged in. */
    private static String effectiveUid() {
        try {
            // readAllLines, not readString: procfs reports a size of 0 and readString can come back short
            return Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith("Uid:"))
                    .map(l -> l.substring(4).strip().split("\\s+")[1]).findFirst()
                    .orElseThrow(() -> new IllegalStateException("/proc/self/status has no Uid: line"));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read /proc/self/status: " + e.getMessage(), e);
        }
    }

    /** Runs `up`, echoing its output as it comes so that a cold build shows progress; returns its last line. */
    private static String up(Path up) {
        System.out.println("cluster: " + up + " (a cold start builds the cluster's components; bound " + UP_BOUND + ")");
        try {
            Process p = new ProcessBuilder(up.toString()).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                    .redirectError(ProcessBuilder.Redirect.INHERIT).start();
            List<String> lines = new ArrayList<>();
            CompletableFuture<Void> reader = CompletableFuture.runAsync(() -> {
                try (var in = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                    for (String line; (line = in.readLine()) != null; ) {
                        System.out.println("[up] " + line);
                        synchronized (lines) {
                            lines.add(line);
                        }
                    }
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
            if (!p.waitFor(UP_BOUND.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException(up + " did not finish within " + UP_BOUND);
            }
            reader.join();
            if (p.exitValue() != 0) {
                throw new IllegalStateException(up + " failed with exit " + p.exitValue() + " (its output is above)");
            }
            synchronized (lines) {
                if (lines.isEmpty() || lines.getLast().isBlank()) {
                    throw new IllegalStateException(up + " printed no kubeconfig path on its last line");
                }
                return lines.getLast().strip();
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run " + up, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while running " + up, e);
        }
    }

    /** A command on the node (the cluster's container), e.g. findmnt; never fails by itself. */
    Shell.Result nodeExec(Duration bound, String... command) {
        List<String> argv = new ArrayList<>();
        argv.add(repo().resolve("e2e/cluster/node-exec").toString());
        argv.addAll(List.of(command));
        return Shell.run(bound, argv.toArray(String[]::new));
    }

    /** A shell script on the node. */
    Shell.Result nodeShell(String script) {
        return nodeExec(Duration.ofSeconds(60), "sh", "-c", script);
    }

    void loadImages(String... images) {
        List<String> argv = new ArrayList<>();
        argv.add(repo().resolve("e2e/cluster/load-image").toString());
        argv.addAll(List.of(images));
        Shell.run(Duration.ofMinutes(10), argv.toArray(String[]::new)).orFail("e2e/cluster/load-image " + String.join(" ", images));
    }
}
