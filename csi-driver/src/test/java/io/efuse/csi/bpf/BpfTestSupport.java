package io.efuse.csi.bpf;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;

/** Shared preconditions and a private pin root per test, so tests never touch the node's real monitor pins. */
public final class BpfTestSupport {

    private BpfTestSupport() {
    }

    public static void assumeBpfCapable() {
        assumeTrue("root".equals(System.getProperty("user.name")), "loading BPF programs needs root");
        assumeTrue(Files.isReadable(Path.of("/sys/kernel/btf/vmlinux")), "the kernel has no BTF");
        assumeTrue(FuseMonitor.class.getResource(FuseMonitor.OBJECT_RESOURCE) != null,
                "the build has no " + FuseMonitor.OBJECT_RESOURCE + " (built with -Dbpf.skip)");
    }

    public static BpfHost privateHost() {
        return BpfHost.system().withPinRoot(Path.of("/sys/fs/bpf/efuse-test-" + UUID.randomUUID()));
    }

    public static void removePins(BpfHost host) throws Exception {
        FuseMonitor.detach(host);
        Files.deleteIfExists(host.pinRoot());
    }
}
