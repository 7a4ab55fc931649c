package io.efuse.csi.cli;

import io.efuse.csi.sys.LibC;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/**
 * {@code efuse-csi node}: Identity and Node for kubelet, plus the reconciler that makes this node's volumes and
 * snapshots from their resources. eFuse sessions live in this process, or with {@code --keeper-socket} in the
 * daemon ({@code efuse-csi fsd}) whose descriptors the fd keeper embedded here holds.
 */
@Command(name = "node", mixinStandardHelpOptions = true,
        description = "Serve the CSI Identity and Node services for kubelet and reconcile this node's EfuseVolume"
                + " and EfuseSnapshot resources (backing directories, limits, copies, reclaim).")
final class NodeCommand implements Callable<Integer> {
    @Mixin
    DriverOptions options;

    @Override
    public Integer call() {
        if (LibC.geteuid() != 0) {
            System.err.println("efuse-csi node: must run as root (it mounts volumes)");
            return ExitCodes.NOT_PERMITTED;
        }
        if (!Files.exists(Path.of("/dev/fuse"))) {
            System.err.println("efuse-csi node: /dev/fuse is missing: this kernel or container has no FUSE");
            return ExitCodes.NO_FUSE;
        }
        return DriverRoles.node(options);
    }
}
