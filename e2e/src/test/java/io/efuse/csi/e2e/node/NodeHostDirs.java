package io.efuse.csi.e2e.node;

import com.github.dockerjava.api.model.AccessMode;
import com.github.dockerjava.api.model.Bind;
import com.github.dockerjava.api.model.PropagationMode;
import com.github.dockerjava.api.model.SELContext;
import com.github.dockerjava.api.model.Volume;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * A node's host directories for one container test, under one root that is a shared bind mount of itself:
 * the kubelet-like dir, /var/lib/efuse, /run/efuse and the plugin socket dir. Shared propagation is what
 * kubelet's root has on a real node, and what `rshared` binds (Bidirectional in the DaemonSet) need.
 */
final class NodeHostDirs implements AutoCloseable {

    final Path root;
    final Path kubelet;
    final Path efuseData;
    final Path efuseRun;
    final Path plugin;

    NodeHostDirs() throws IOException {
        root = Files.createTempDirectory(Path.of("/var/tmp"), "efuse-e2e-");
        kubelet = Files.createDirectories(root.resolve("kubelet"));
        efuseData = Files.createDirectories(root.resolve("efuse-lib"));
        efuseRun = Files.createDirectories(root.resolve("efuse-run"));
        plugin = Files.createDirectories(root.resolve("plugin"));
        host("mount", "--bind", root.toString(), root.toString());
        host("mount", "--make-rshared", root.toString());
    }

    /** The DaemonSet's host mounts, as binds of this test's directories. */
    List<Bind> daemonSetBinds() {
        List<Bind> binds = new ArrayList<>(List.of(
                bind(kubelet, kubelet.toString(), AccessMode.rw, PropagationMode.RSHARED),
                bind(efuseData, "/var/lib/efuse", AccessMode.rw, PropagationMode.RSHARED),
                bind(efuseRun, "/run/efuse", AccessMode.rw, PropagationMode.DEFAULT_MODE),
                bind(plugin, "/csi", AccessMode.rw, PropagationMode.DEFAULT_MODE)));
        if (Files.isDirectory(Path.of("/sys/fs/bpf"))) {
            // the DaemonSet's Bidirectional here only matters where the host has no bpffs mounted yet; the
            // test host's mounts are private, and a plain bind shares the pinned objects all the same
            binds.add(bind(Path.of("/sys/fs/bpf"), "/sys/fs/bpf", AccessMode.rw, PropagationMode.DEFAULT_MODE));
        }
        if (Files.isDirectory(Path.of("/sys/kernel/btf"))) {
            binds.add(bind(Path.of("/sys/kernel/btf"), "/sys/kernel/btf", AccessMode.ro, PropagationMode.DEFAULT_MODE));
        }
        return binds;
    }

    private static Bind bind(Path host, String container, AccessMode mode, PropagationMode propagation) {
        return new Bind(host.toString(), new Volume(container), mode, SELContext.DEFAULT, null, propagation);
    }

    /** Whether the host's mount table has a mount at this path (as kubelet would see it). */
    static boolean isMountPoint(Path path) throws IOException {
        String p = path.toAbsolutePath().normalize().toString();
        for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
            String[] f = line.split(" ");
            if (f.length > 4 && f[4].replace("\\040", " ").equals(p)) {
                return true;
            }
        }
        return false;
    }

    static void host(String... command) {
        DockerCli.exec(List.of(command), Duration.ofSeconds(30)).orFail(String.join(" ", command));
    }

    @Override
    public void close() throws IOException {
        // lazily: a FUSE mount left by a failed test may have lost its daemon
        DockerCli.exec(List.of("umount", "-R", "-l", root.toString()), Duration.ofSeconds(30));
        try (var walk = Files.walk(root)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            System.err.println("could not remove " + root + ": " + e.getMessage());
        }
    }
}
