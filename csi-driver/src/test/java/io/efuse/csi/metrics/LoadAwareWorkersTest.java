package io.efuse.csi.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.efuse.csi.bpf.BpfHost;
import io.efuse.csi.bpf.BpfTestSupport;
import io.efuse.csi.bpf.FuseMonitor;
import io.efuse.csi.bpf.TestFuseMount;
import io.efuse.csi.testing.RequiresBpf;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@RequiresBpf
class LoadAwareWorkersTest {

    @TempDir
    Path dir;

    private BpfHost host;

    @BeforeEach
    void setUp() {
        host = BpfTestSupport.privateHost();
    }

    @AfterEach
    void tearDown() throws Exception {
        BpfTestSupport.removePins(host);
    }

    @Test
    void asksForMoreWorkersUnderConcurrentLoadAndForMinWhenIdle() throws Exception {
        try (FuseMonitor monitor = FuseMonitor.attach(host); TestFuseMount mount = TestFuseMount.mount(dir)) {
            Path file = mount.mountPoint.resolve("f");
            Files.writeString(file, "x");
            LoadAwareWorkers advisor = new LoadAwareWorkers(monitor, mount.connectionId(), new WorkerScaler(1, 16, 1.25, 1));
            assertEquals(2, advisor.desiredWorkers(2), "first reading, nothing going on");

            AtomicBoolean stop = new AtomicBoolean();
            List<Thread> clients = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                clients.add(Thread.ofPlatform().start(() -> {
                    try (FileChannel ch = FileChannel.open(file)) {
                        while (!stop.get()) {
                            ch.size();
                        }
                    } catch (Exception e) {
                        throw new RuntimeException(e);
                    }
                }));
            }
            int advised = 2;
            try {
                long deadline = System.nanoTime() + 10_000_000_000L;
                while (advised <= 2 && System.nanoTime() < deadline) {
                    Thread.sleep(100); // sampling interval of the advisor, not a wait for a result
                    advised = advisor.desiredWorkers(2);
                }
            } finally {
                stop.set(true);
                for (Thread t : clients) {
                    t.join();
                }
            }
            assertTrue(advised > 2, "16 clients on 2 workers: more workers wanted, got " + advised);

            int n = advised;
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (n > 1 && System.nanoTime() < deadline) {
                Thread.sleep(100);
                n = advisor.desiredWorkers(n);
            }
            assertEquals(1, n, "an idle session goes back to min");
        }
    }
}
