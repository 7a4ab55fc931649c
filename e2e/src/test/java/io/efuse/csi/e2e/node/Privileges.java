package io.efuse.csi.e2e.node;

import com.github.dockerjava.api.model.Capability;
import com.github.dockerjava.api.model.DockerObject;
import com.github.dockerjava.api.model.HostConfig;
import java.io.IOException;
import java.lang.reflect.Field;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.testcontainers.containers.GenericContainer;

/**
 * The container settings for the DaemonSet's `privileged: true`. Where this process's own capability bounding
 * set is full, that is --privileged. In a sandbox whose bounding set lacks some capabilities, docker's
 * --privileged fails (runc cannot grant them), so the container gets every capability the host has, with the
 * same unconfined seccomp, AppArmor and /proc, /sys paths that --privileged gives: what `docker run
 * --cap-add=ALL --cap-drop=... --security-opt seccomp=unconfined --security-opt apparmor=unconfined
 * --security-opt systempaths=unconfined` sends.
 */
final class Privileges {

    /** Capability names by number (linux/capability.h), as docker's --cap-drop and docker-java spell them. */
    private static final String[] NAMES = {"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL",
            "SETGID", "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN",
            "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
            "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE",
            "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
            "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE"};

    private Privileges() {
    }

    static void apply(GenericContainer<?> container) {
        List<String> missing = missingFromBoundingSet();
        if (missing.isEmpty()) {
            container.withPrivilegedMode(true);
            return;
        }
        Capability[] drop = missing.stream().map(Capability::valueOf).toArray(Capability[]::new);
        container.withCreateContainerCmdModifier(cmd -> {
            HostConfig host = cmd.getHostConfig().withCapAdd(Capability.ALL).withCapDrop(drop)
                    .withSecurityOpts(List.of("seccomp=unconfined", "apparmor=unconfined"));
            unconfineSystemPaths(host);
        });
    }

    /**
     * systempaths=unconfined is the CLI's word, not the engine's: it sends empty MaskedPaths and ReadonlyPaths
     * instead, fields that docker-java's HostConfig lacks. Its raw values, a @JsonAnyGetter map, are written out
     * with the rest.
     */
    private static void unconfineSystemPaths(HostConfig host) {
        try {
            Field raw = DockerObject.class.getDeclaredField("rawValues");
            raw.setAccessible(true);
            @SuppressWarnings("unchecked")
            Map<String, Object> values = (Map<String, Object>) raw.get(host);
            values.put("MaskedPaths", List.of());
            values.put("ReadonlyPaths", List.of());
        } catch (ReflectiveOperationException | ClassCastException e) {
            throw new IllegalStateException("docker-java's HostConfig no longer carries raw values: " + e, e);
        }
    }

    private static List<String> missingFromBoundingSet() {
        try {
            BigInteger bounding = Files.readAllLines(Path.of("/proc/self/status")).stream()
                    .filter(l -> l.startsWith("CapBnd:")).map(l -> new BigInteger(l.substring(7).strip(), 16))
                    .findFirst().orElseThrow();
            // readAllLines, not readString: procfs reports a size of 0 and readString can come back short
            int last = Integer.parseInt(Files.readAllLines(Path.of("/proc/sys/kernel/cap_last_cap")).getFirst().strip());
            List<String> missing = new ArrayList<>();
            for (int cap = 0; cap <= Math.min(last, NAMES.length - 1); cap++) {
                if (!bounding.testBit(cap)) {
                    missing.add(NAMES[cap]);
                }
            }
            return missing;
        } catch (IOException e) {
            throw new IllegalStateException("cannot read the capability bounding set: " + e.getMessage(), e);
        }
    }
}
