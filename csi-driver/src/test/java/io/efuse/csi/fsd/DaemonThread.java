package io.efuse.csi.fsd;

import java.nio.file.Path;
import java.time.Duration;

/**
 * An {@link FsDaemon} serving on a thread of the test's JVM, for tests that need to reach into the daemon or
 * run several of them cheaply. Closing it hands over (nothing is unmounted), as SIGTERM would.
 */
public final class DaemonThread implements AutoCloseable {
    private final FsDaemon daemon;
    private final Thread thread;

    private DaemonThread(Path socket) {
        daemon = new FsDaemon(socket);
        thread = Thread.ofPlatform().daemon(true).name("fsd-" + socket.getFileName()).start(() -> {
            try {
                daemon.run();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
    }

    public static DaemonThread start(Path socket) {
        return new DaemonThread(socket);
    }

    FsDaemon daemon() {
        return daemon;
    }

    public int volumeCount() {
        return daemon.volumeCount();
    }

    @Override
    public void close() throws InterruptedException {
        daemon.handOver();
        thread.join(Duration.ofSeconds(30));
    }
}
