package io.efuse.csi.cli;

import io.efuse.csi.csi.CsiServer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs a CSI role until SIGTERM/SIGINT, then closes what it opened in reverse order: the endpoint first (so
 * calls in flight finish), then the services' resources, all within the process's grace period.
 */
final class DriverProcess {
    private static final Logger LOG = LoggerFactory.getLogger(DriverProcess.class);

    /** Something that stops within the time it is given: what is left of the grace period when its turn comes. */
    @FunctionalInterface
    interface BoundedStop {
        void stop(Duration left) throws Exception;
    }

    private record Owned(Object what, BoundedStop stop) {}

    /** The bound of closing after a failed start, when nothing is served yet. */
    private static final Duration FAILED_START_GRACE = Duration.ofSeconds(10);

    private final List<Owned> resources = new ArrayList<>();

    /** Registers something to close at shutdown; later registrations close first. */
    <T extends AutoCloseable> T own(T resource) {
        resources.add(new Owned(resource, left -> resource.close()));
        return resource;
    }

    /** Registers something to stop at shutdown within what is left of the grace period; later ones stop first. */
    void ownBounded(String what, BoundedStop stop) {
        resources.add(new Owned(what, stop));
    }

    /** Serves until signalled, then closes everything within grace (--grace-seconds) in all. */
    int runUntilSignalled(CsiServer server, Duration grace) {
        ownBounded("the CSI endpoint", server::close);
        CountDownLatch stopped = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            LOG.info("shutting down within {} ms", grace.toMillis());
            closeAll(grace);
            stopped.countDown();
        }, "shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            server.awaitTermination();
            stopped.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return ExitCodes.OK;
    }

    /** Closes what a start that failed had opened. */
    void closeAll() {
        closeAll(FAILED_START_GRACE);
    }

    private void closeAll(Duration grace) {
        long end = System.nanoTime() + grace.toNanos();
        for (int i = resources.size() - 1; i >= 0; i--) {
            try {
                resources.get(i).stop().stop(Duration.ofNanos(Math.max(0, end - System.nanoTime())));
            } catch (Exception e) {
                LOG.warn("closing {}: {}", resources.get(i).what(), e.toString());
            }
        }
        resources.clear();
    }
}
