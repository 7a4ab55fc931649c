package io.efuse.csi.fsd;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An application on the mount: creates a file exclusively (O_EXCL), writes and reads it back, deletes
 * it, over and over; every step goes to the daemon. Counts errors the application sees and records
 * the latency of every round so that the pause around an event can be measured.
 */
public final class IoProbe implements AutoCloseable {
    private final Path dir;
    private final Thread thread;
    private volatile boolean stop;
    private final AtomicLong rounds = new AtomicLong();
    private final List<String> errors = new ArrayList<>();
    private final List<long[]> spans = new ArrayList<>(); // {start, end} in nanoTime

    public IoProbe(Path dir) {
        this.dir = dir;
        this.thread = Thread.ofPlatform().daemon(true).name("io-probe").unstarted(this::loop);
    }

    public IoProbe start() {
        thread.start();
        return this;
    }

    private void loop() {
        byte[] data = new byte[4096];
        for (long i = 0; !stop; i++) {
            Arrays.fill(data, (byte) i);
            Path f = dir.resolve("probe-" + i);
            long t0 = System.nanoTime();
            try {
                Files.write(f, data, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
                byte[] back = Files.readAllBytes(f);
                if (!Arrays.equals(back, data)) {
                    record("round " + i + ": read back different data");
                }
                Files.delete(f);
            } catch (IOException | RuntimeException e) {
                record("round " + i + ": " + e);
            }
            long t1 = System.nanoTime();
            synchronized (spans) {
                spans.add(new long[] {t0, t1});
            }
            rounds.incrementAndGet();
        }
    }

    private void record(String e) {
        synchronized (errors) {
            if (errors.size() < 50) {
                errors.add(e);
            }
        }
    }

    public long rounds() {
        return rounds.get();
    }

    public List<String> errors() {
        synchronized (errors) {
            return List.copyOf(errors);
        }
    }

    /**
     * The pause an event at time from caused: waits (bounded) until a round that started after the
     * service came back (now) has finished, then returns the longest round in progress at or started
     * after from (ms).
     */
    public double pauseAfter(long from) throws InterruptedException {
        long back = System.nanoTime();
        long deadline = back + 60_000_000_000L;
        while (System.nanoTime() < deadline) {
            synchronized (spans) {
                if (!spans.isEmpty() && spans.get(spans.size() - 1)[0] > back) {
                    break;
                }
            }
            Thread.sleep(5); // the probe thread records rounds as they end
        }
        return pauseMillis(from, Long.MAX_VALUE);
    }

    /** The longest round that was in progress at or started after from and started before to (ms). */
    public double pauseMillis(long from, long to) {
        long max = 0;
        synchronized (spans) {
            for (long[] s : spans) {
                if (s[1] >= from && s[0] < to) {
                    max = Math.max(max, s[1] - s[0]);
                }
            }
        }
        return max / 1e6;
    }

    @Override
    public void close() throws InterruptedException {
        stop = true;
        thread.join(60_000);
    }
}
