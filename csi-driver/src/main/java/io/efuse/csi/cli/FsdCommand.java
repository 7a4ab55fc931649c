package io.efuse.csi.cli;

import io.efuse.csi.fsd.FsDaemon;
import io.efuse.csi.sys.LibC;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code efuse-csi fsd}: the FUSE daemon host, serving the volumes an fd keeper gives it. */
@Command(name = "fsd", mixinStandardHelpOptions = true,
        description = "Serve eFuse volumes for the fd keeper listening on --socket. SIGTERM hands every volume"
                + " over to the next daemon without unmounting; a crash loses nothing either (the keeper holds the"
                + " connections and the next daemon resumes from the state under the keeper's state root).")
final class FsdCommand implements Callable<Integer> {
    @Option(names = "--socket", required = true, paramLabel = "PATH", description = "The fd keeper's unix socket.")
    Path socket;

    @Override
    public Integer call() {
        if (LibC.geteuid() != 0) {
            System.err.println("efuse-csi fsd: must run as root (FUSE, open_by_handle_at)");
            return ExitCodes.NOT_PERMITTED;
        }
        FsDaemon daemon = new FsDaemon(socket);
        Thread main = Thread.currentThread();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            daemon.handOver();
            main.interrupt();
        }, "efuse-handover"));
        System.err.println("efuse-csi fsd: pid " + ProcessHandle.current().pid() + ", fd keeper " + socket);
        try {
            daemon.run();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return ExitCodes.OK;
    }
}
