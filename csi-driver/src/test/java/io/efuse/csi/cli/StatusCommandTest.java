package io.efuse.csi.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.efuse.csi.bpf.BpfHost;
import io.efuse.csi.bpf.BpfTestSupport;
import io.efuse.csi.bpf.FuseMonitor;
import io.efuse.csi.bpf.TestFuseMount;
import io.efuse.csi.metrics.VolumeDirectory;
import io.efuse.csi.testing.RequiresBpf;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

@RequiresBpf
class StatusCommandTest {

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
    void showsEachVolumesRateLatencyAndTier() throws Exception {
        Path state = dir.resolve("state");
        try (FuseMonitor _ = FuseMonitor.attach(host); TestFuseMount mount = TestFuseMount.mount(dir)) {
            new VolumeDirectory(state).register(new VolumeDirectory.Volume(mount.connectionId(), "pvc-status",
                    mount.mountPoint.toString(), mount.mount.tier().label()));
            Path file = mount.mountPoint.resolve("f");
            Files.writeString(file, "x");
            AtomicBoolean stop = new AtomicBoolean();
            Thread load = Thread.ofPlatform().start(() -> {
                try (FileChannel ch = FileChannel.open(file)) {
                    while (!stop.get()) {
                        ch.size();
                    }
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            String text;
            int rc;
            try {
                StatusCommand status = new StatusCommand();
                ByteArrayOutputStream buf = new ByteArrayOutputStream();
                status.out = new PrintStream(buf, true, StandardCharsets.UTF_8);
                rc = new CommandLine(status).execute("--once", "--interval", "0.5", "--pin-root",
                        host.pinRoot().toString(), "--state-dir", state.toString());
                text = buf.toString(StandardCharsets.UTF_8);
            } finally {
                stop.set(true);
                load.join();
            }
            assertEquals(0, rc, text);
            String row = text.lines().filter(l -> l.startsWith("pvc-status")).findFirst().orElseThrow(
                    () -> new AssertionError("no row for the volume in\n" + text));
            String[] f = row.trim().split("\\s+");
            assertEquals(Integer.toString(mount.connectionId()), f[1]);
            assertEquals("classic", f[2]);
            assertTrue(Double.parseDouble(f[3]) > 10, "ops/s while a client stats in a loop: " + row);
            assertTrue(f[6].matches("[0-9.]+(ns|us|ms|s)"), "p50 shown: " + row);
            assertEquals("getattr", f[10], "busiest operation: " + row);
        }
    }

    @Test
    void saysWhyWhenNoMonitorIsAttached() {
        StatusCommand status = new StatusCommand();
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        status.out = new PrintStream(buf, true, StandardCharsets.UTF_8);
        int rc = new CommandLine(status).execute("--once", "--pin-root", host.pinRoot().toString(), "--state-dir",
                dir.resolve("none").toString());
        assertEquals(ExitCodes.FAILED, rc);
        assertTrue(buf.toString(StandardCharsets.UTF_8).contains("not attached"), buf.toString());
    }
}
