package io.efuse.csi.csi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import csi.v1.Csi;
import io.efuse.csi.bpf.BpfHost;
import io.efuse.csi.bpf.BpfTestSupport;
import io.efuse.csi.metrics.NodeTelemetry;
import io.efuse.csi.metrics.Scrape;
import io.efuse.csi.metrics.SessionTelemetry;
import io.efuse.csi.sys.MountTable;
import io.efuse.csi.testing.RequiresBpf;
import io.efuse.csi.testing.RequiresFuse;
import io.efuse.csi.volume.EfuseMounter;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.net.InetSocketAddress;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The node plugin's metrics endpoint as the driver wires it: the volumes it stages appear with their FUSE series and
 * their sessions' figures, every CSI call is counted by its status code, and /healthz answers.
 */
@RequiresBpf
@RequiresFuse
class NodeMetricsTest {
    private static final int FILES = 5;

    @TempDir
    Path dir;

    private BpfHost host;
    private NodeTelemetry telemetry;
    private CsiTestDriver d;

    @BeforeEach
    void setUp() throws Exception {
        host = BpfTestSupport.privateHost();
        telemetry = NodeTelemetry.start(host, dir.resolve("published"), new InetSocketAddress("127.0.0.1", 0),
                () -> true);
        d = new CsiTestDriver(dir, new EfuseMounter(2, new SessionTelemetry(telemetry, 4)), dir.resolve("backing"),
                telemetry.rpc());
    }

    @AfterEach
    void tearDown() throws Exception {
        if (d != null) {
            d.close();
        }
        if (telemetry != null) {
            telemetry.close();
        }
        if (host != null) {
            BpfTestSupport.removePins(host);
        }
    }

    private String scrape(String path) throws Exception {
        HttpResponse<String> r = Scrape.get(telemetry.metricsPort().orElseThrow(), path);
        assertEquals(200, r.statusCode(), path + ": " + r.body());
        return r.body();
    }

    @Test
    void aStagedVolumeIsExportedWithItsSessionAndEveryCsiCallIsCountedByCode() throws Exception {
        String id = d.create("measured", 64L << 20).getVolumeId();
        Path staging = dir.resolve("staging").resolve(id);
        d.stage(id, staging);
        for (int i = 0; i < FILES; i++) {
            Files.writeString(staging.resolve("f" + i), "x");
        }
        StatusRuntimeException bad = assertThrows(StatusRuntimeException.class, () -> d.node.nodeStageVolume(
                Csi.NodeStageVolumeRequest.newBuilder().setStagingTargetPath(staging.toString())
                        .setVolumeCapability(CsiTestDriver.rwo()).build()));
        assertEquals(Status.Code.INVALID_ARGUMENT, bad.getStatus().getCode());

        assertEquals("ok\n", scrape("/healthz"));
        String text = scrape("/metrics");
        int connection = MountTable.find(staging).orElseThrow().minor();
        assertTrue(text.contains("efuse_volume_info{volume=\"" + id + "\",connection=\"" + connection
                + "\",mount_point=\"" + staging + "\""), text);
        assertTrue(Scrape.value(text, "efuse_fuse_requests_total{volume=\"" + id + "\",op=\"create\"}") >= FILES, text);
        assertEquals(1, Scrape.value(text, "efuse_fuse_sessions"));
        assertTrue(Scrape.value(text, "efuse_fuse_session_workers{volume=\"" + id + "\"}") >= 2, text);
        assertEquals(1, Scrape.value(text, "efuse_csi_rpc_requests_total{service=\"Controller\",method=\"CreateVolume\",code=\"OK\"}"));
        assertEquals(1, Scrape.value(text, "efuse_csi_rpc_requests_total{service=\"Node\",method=\"NodeStageVolume\",code=\"OK\"}"));
        assertEquals(1, Scrape.value(text,
                "efuse_csi_rpc_requests_total{service=\"Node\",method=\"NodeStageVolume\",code=\"INVALID_ARGUMENT\"}"));
        assertEquals(2, Scrape.value(text, "efuse_csi_rpc_duration_seconds_count{service=\"Node\",method=\"NodeStageVolume\"}"));
        assertTrue(Files.exists(dir.resolve("published").resolve(Integer.toString(connection))),
                "published for efuse-csi status");

        d.unstage(id, staging);
        text = scrape("/metrics");
        assertFalse(text.contains("volume=\"" + id + "\""), "an unstaged volume is no longer exported:\n" + text);
        assertEquals(0, Scrape.value(text, "efuse_fuse_sessions"));
        assertFalse(Files.exists(dir.resolve("published").resolve(Integer.toString(connection))));
    }
}
