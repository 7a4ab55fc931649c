package io.efuse.csi.bpf;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;

/** A private pin root per test, so tests never touch the node's real monitor pins. */
public final class BpfTestSupport {

    private BpfTestSupport() {
    }

    public static BpfHost privateHost() {
        return BpfHost.system().withPinRoot(Path.of("/sys/fs/bpf/efuse-test-" + UUID.randomUUID()));
    }

    public static void removePins(BpfHost host) throws Exception {
        FuseMonitor.detach(host);
        Files.deleteIfExists(host.pinRoot());
    }
}
