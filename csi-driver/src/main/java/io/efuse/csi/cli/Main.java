package io.efuse.csi.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The single entry point of the efuse-csi artifact; each role is a subcommand. */
@Command(name = "efuse-csi", mixinStandardHelpOptions = true,
        subcommands = {MountCommand.class, UmountCommand.class},
        versionProvider = Main.Version.class,
        description = "Kubernetes CSI driver backed by eFuse, a kernel-accelerated stackable FUSE filesystem.")
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
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

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"efuse-csi " + (v == null ? "dev" : v)};
        }
    }
}
