package io.efuse.csi.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Several threads creating, writing, linking, renaming and unlinking in one directory at once, the
 * way the kernel sends such requests to the daemon's workers in parallel: every operation succeeds
 * as it does natively, and the directory ends in the same state (each thread's outcome is
 * deterministic, only the interleaving is not).
 */
class ConcurrentNamespaceTest {
    @RegisterExtension
    static final ComparedVolumes volumes = new ComparedVolumes();

    private static final int THREADS = 6;
    private static final int ROUNDS = 150;

    /** One thread's work: names are its own, the directory is shared. Returns its failures. */
    private static List<String> churn(Path dir, int id) throws Exception {
        List<String> failures = new ArrayList<>();
        for (int i = 0; i < ROUNDS; i++) {
            Path a = dir.resolve("t" + id + "-a" + (i % 7));
            Path b = dir.resolve("t" + id + "-b" + (i % 5));
            Path sub = dir.resolve("t" + id + "-dir");
            String content = "thread " + id + " round " + i;
            Files.writeString(a, content);
            String r = Posix.link(a, b);
            if (!r.equals("ok") && !r.equals("EEXIST")) {
                failures.add("link " + i + ": " + r);
            }
            r = Posix.rename(a, dir.resolve("t" + id + "-c"), 0);
            if (!r.equals("ok")) {
                failures.add("rename " + i + ": " + r);
            }
            String read = Files.readString(dir.resolve("t" + id + "-c"), StandardCharsets.UTF_8);
            if (!read.equals(content)) {
                failures.add("read " + i + ": " + read);
            }
            if (i % 3 == 0) {
                r = Posix.mkdir(sub, 0755);
                if (!r.equals("ok")) {
                    failures.add("mkdir " + i + ": " + r);
                }
                Files.writeString(sub.resolve("x"), content);
                Posix.unlink(sub.resolve("x"));
                r = Posix.rmdir(sub);
                if (!r.equals("ok")) {
                    failures.add("rmdir " + i + ": " + r);
                }
            }
            if (i % 5 == 4) {
                r = Posix.unlink(b);
                if (!r.equals("ok")) {
                    failures.add("unlink " + i + ": " + r);
                }
            }
        }
        return failures;
    }

    @OnBothTiers
    void parallelChurnEndsInTheNativeState(Tier tier) throws Exception {
        ComparedVolumes.Workspace w = volumes.compare(tier, (dir, seen) -> {
            ExecutorService pool = Executors.newFixedThreadPool(THREADS);
            try {
                List<Future<List<String>>> results = new ArrayList<>();
                for (int t = 0; t < THREADS; t++) {
                    int id = t;
                    results.add(pool.submit(() -> churn(dir, id)));
                }
                for (int t = 0; t < THREADS; t++) {
                    seen.add("thread " + t + " failures", results.get(t).get(120, TimeUnit.SECONDS));
                }
            } finally {
                pool.shutdownNow();
            }
            TreeSet<String> names = new TreeSet<>(List.of(dir.toFile().list()));
            seen.add("final names", names);
            for (String n : names) {
                seen.add(n, Posix.attrs(dir.resolve(n)) + " " + Files.readString(dir.resolve(n)));
            }
        });
        assertEquals(new TreeSet<>(List.of(w.mountDir().toFile().list())),
                new TreeSet<>(List.of(w.backingDir().toFile().list())));
    }
}
