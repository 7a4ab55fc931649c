package io.efuse.csi.cli;

import io.efuse.csi.sys.LibC;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code efuse-csi standalone}: Identity, Controller and Node on one endpoint, with the embedded local store. */
@Command(name = "standalone", mixinStandardHelpOptions = true,
        description = "Serve the CSI Identity, Controller and Node services on one endpoint for a single machine"
                + " with no cluster: volume records live in --state-dir, data under --backing-root.")
final class StandaloneCommand implements Callable<Integer> {
    @Mixin
    DriverOptions options;

    @Override
    public Integer call() {
        if (LibC.geteuid() != 0) {
            System.err.println("efuse-csi standalone: must run as root (it mounts volumes)");
            return ExitCodes.NOT_PERMITTED;
        }
        if (!Files.exists(Path.of("/dev/fuse"))) {
            System.err.println("efuse-csi standalone: /dev/fuse is missing: this kernel or container has no FUSE");
            return ExitCodes.NO_FUSE;
        }
        return DriverRoles.standalone(options);
    }
}
