package io.efuse.csi.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The single entry point of the efuse-csi artifact; each role is a subcommand. */
@Command(name = "efuse-csi", mixinStandardHelpOptions = true,
        subcommands = {MountCommand.class, UmountCommand.class, StatusCommand.class, MonitorCommand.class,
                StandaloneCommand.class, ControllerCommand.class, NodeCommand.class, FsdCommand.class,
                KeepCommand.class},
        versionProvider = Main.Version.class,
        description = "Kubernetes CSI driver backed by eFuse, a kernel-accelerated stackable FUSE filesystem.")
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        if (System.getProperty("java.util.logging.SimpleFormatter.format") == null) {
            // One line per record: time, level, logger, message (and the stack trace, if any).
            System.setProperty("java.util.logging.SimpleFormatter.format",
                    "%1$tFT%1$tT.%1$tL%1$tz %4$s %3$s: %5$s%6$s%n");
        }
        System.exit(commandLine().execute(args));
    }

    /** Built here so that tests can run subcommands in-process. */
    public static CommandLine commandLine() {
        return new CommandLine(new Main());
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.err);
    }

    static String version() {
        String v = Main.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"efuse-csi " + (v == null ? "dev" : v)};
        }
    }
}
