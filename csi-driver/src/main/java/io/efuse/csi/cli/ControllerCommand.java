package io.efuse.csi.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code efuse-csi controller}: Identity and Controller, with volume state in EfuseVolume resources. */
@Command(name = "controller", mixinStandardHelpOptions = true,
        description = "Serve the CSI Identity and Controller services for a cluster: volumes are EfuseVolume"
                + " resources that each node's plugin reconciles. With --shared-root this process also makes the"
                + " shared backend's volumes.")
final class ControllerCommand implements Callable<Integer> {
    @Mixin
    DriverOptions options;

    @Option(names = "--wait-seconds", defaultValue = "60", paramLabel = "S",
            description = "How long a call waits for a node to act before it returns UNAVAILABLE and is retried"
                    + " (default: ${DEFAULT-VALUE}).")
    long waitSeconds;

    @Override
    public Integer call() {
        return DriverRoles.controller(options, waitSeconds);
    }
}
