package io.efuse.csi.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

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
        ProcessLogging.install();
        System.exit(commandLine().execute(args));
    }

    /** Before any role runs: parsing comes first, and no command logs while it is parsed. */
    @Option(names = "--log-level", scope = CommandLine.ScopeType.INHERIT, paramLabel = "LEVEL",
            converter = LogLevel.Converter.class,
            description = "The least severe lines logged: error, warn, info, debug or trace (default: info).")
    void logLevel(LogLevel level) {
        ProcessLogging.level(level);
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
