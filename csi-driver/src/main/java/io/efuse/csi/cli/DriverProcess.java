package io.efuse.csi.cli;

import io.efuse.csi.csi.CsiServer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs a CSI role until SIGTERM/SIGINT, then closes what it opened in reverse order: the endpoint first (so
 * calls in flight finish), then the services' resources.
 */
final class DriverProcess {
    private static final Logger LOG = LoggerFactory.getLogger(DriverProcess.class);

    private final List<AutoCloseable> resources = new ArrayList<>();

    /** Registers something to close at shutdown; later registrations close first. */
    <T extends AutoCloseable> T own(T resource) {
        resources.add(resource);
        return resource;
    }

    int runUntilSignalled(CsiServer server) {
        own(server);
        CountDownLatch stopped = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            LOG.info("shutting down");
            closeAll();
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

    void closeAll() {
        for (int i = resources.size() - 1; i >= 0; i--) {
            try {
                resources.get(i).close();
            } catch (Exception e) {
                LOG.warn("closing {}: {}", resources.get(i), e.toString());
            }
        }
        resources.clear();
    }
}
