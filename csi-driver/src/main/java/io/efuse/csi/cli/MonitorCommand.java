package io.efuse.csi.cli;

import io.efuse.csi.bpf.BpfHost;
import io.efuse.csi.bpf.BpfUnavailableException;
import io.efuse.csi.bpf.FuseMonitor;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/** {@code efuse-csi monitor attach|detach}: puts the eBPF FUSE monitor on this node or takes it off. */
@Command(name = "monitor", mixinStandardHelpOptions = true,
        description = "Attach or detach the node's eBPF FUSE monitor (pinned in /sys/fs/bpf/efuse/monitor)."
                + " Processes serving eFuse volumes attach it on their own; this is for operators and benchmarks.",
        subcommands = {MonitorCommand.Attach.class, MonitorCommand.Detach.class})
final class MonitorCommand implements Runnable {

    @Option(names = "--pin-root", hidden = true, defaultValue = "/sys/fs/bpf/efuse")
    Path pinRoot;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.err);
    }

    BpfHost host() {
        return BpfHost.system().withPinRoot(pinRoot);
    }

    @Command(name = "attach", mixinStandardHelpOptions = true,
            description = "Load and attach the monitor (or keep the one attached) and pin it.")
    static final class Attach implements Callable<Integer> {
        @ParentCommand
        MonitorCommand parent;

        @Option(names = "--slow-ms", paramLabel = "MS",
                description = "Record requests at least this slow in the slow-request ring buffer (0: off).")
        Double slowMs;

        @Override
        public Integer call() {
            try (FuseMonitor m = FuseMonitor.attach(parent.host())) {
                if (slowMs != null) {
                    if (slowMs < 0 || Double.isNaN(slowMs)) {
                        System.err.println("efuse-csi monitor attach: --slow-ms must be zero or positive");
                        return ExitCodes.USAGE;
                    }
                    m.setSlowThreshold(Duration.ofNanos((long) (slowMs * 1e6)));
                }
                System.err.println("efuse-csi: FUSE monitor attached, pinned in " + m.pinDir());
                return ExitCodes.OK;
            } catch (BpfUnavailableException e) {
                System.err.println("efuse-csi monitor attach: " + e.getMessage());
                return ExitCodes.FAILED;
            }
        }
    }

    @Command(name = "detach", mixinStandardHelpOptions = true,
            description = "Detach the monitor and remove its pins (its counters are lost).")
    static final class Detach implements Callable<Integer> {
        @ParentCommand
        MonitorCommand parent;

        @Override
        public Integer call() {
            try {
                boolean was = FuseMonitor.detach(parent.host());
                System.err.println(was ? "efuse-csi: FUSE monitor detached" : "efuse-csi: no FUSE monitor attached");
                return ExitCodes.OK;
            } catch (BpfUnavailableException e) {
                System.err.println("efuse-csi monitor detach: " + e.getMessage());
                return ExitCodes.FAILED;
            }
        }
    }
}
