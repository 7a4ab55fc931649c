package io.efuse.csi.csi;

import io.efuse.csi.sys.ErrnoException;
import io.efuse.csi.volume.NodePaths;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Ends the sessions of the node's staged volumes at shutdown, all at once, within a grace. */
final class SessionShutdown {
    private static final Logger LOG = LoggerFactory.getLogger(SessionShutdown.class);

    private SessionShutdown() {
    }

    /** Closes every volume on a virtual thread of its own, made here: serving volumes costs no thread for it. */
    static void closeAll(Iterable<StagedVolumes.Staged> staged, Duration grace, boolean withTargets) {
        long start = System.nanoTime();
        long end = start + grace.toNanos();
        List<StagedVolumes.Staged> all = new ArrayList<>();
        staged.forEach(all::add);
        if (all.isEmpty()) {
            return;
        }
        LOG.info("unmounting {} volumes within {} ms", all.size(), grace.toMillis());
        ExecutorService closers = Executors.newVirtualThreadPerTaskExecutor();
        for (StagedVolumes.Staged s : all) {
            closers.execute(() -> {
                if (withTargets) {
                    detachTargets(s);
                }
                try {
                    s.mount.close(Duration.ofNanos(Math.max(0, end - System.nanoTime())));
                } catch (IOException | RuntimeException e) {
                    LOG.warn("closing the session of volume {} at {}: {}", s.volumeId, s.stagingPath, e.getMessage());
                }
            });
        }
        closers.shutdown();
        try {
            if (!closers.awaitTermination(Math.max(0, end - System.nanoTime()), TimeUnit.NANOSECONDS)) {
                LOG.warn("volumes still being unmounted when the grace of {} ms ran out", grace.toMillis());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        LOG.info("unmounted {} volumes in {} ms", all.size(), (System.nanoTime() - start) / 1_000_000);
    }

    /** Lazily detaches every target the volume is published at (it never blocks on the filesystem). */
    private static void detachTargets(StagedVolumes.Staged s) {
        for (Path target : s.publications.keySet()) {
            try {
                NodePaths.detach(target);
            } catch (ErrnoException e) {
                LOG.warn("volume {}: detaching its target {}: {}", s.volumeId, target, e.getMessage());
            }
        }
    }
}
