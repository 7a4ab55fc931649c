package io.efuse.csi.csi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import csi.v1.Csi;
import csi.v1.IdentityGrpc;
import io.efuse.csi.fsd.MountProbe;
import io.efuse.csi.fsd.NodeProcesses;
import io.efuse.csi.sys.MountTable;
import io.efuse.csi.testing.BoundedWait;
import io.efuse.csi.testing.RequiresFuse;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.storage.CSINodeBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.opentest4j.TestAbortedException;

/**
 * kubernetes-csi's csi-sanity against the driver as it is run: each role a process of its own, with real eFuse
 * sessions (root and /dev/fuse), every spec staging and publishing under fresh directories. A failed spec fails
 * the test with its message; each run prints csi-sanity's summary line. The specs that do not run are the ones this
 * driver's capabilities rule out (docs/testing.md lists them); the floor below catches any more going missing.
 */
@Timeout(value = 30, unit = TimeUnit.MINUTES)
@RequiresFuse
class CsiSanityTest {
    /**
     * Specs csi-sanity v5.6.0 runs against an endpoint with Identity, Controller, GroupController and Node: 103 less
     * 1 pending, 10 of ControllerPublishVolume (nothing to attach) and 7 of CSI 1.13 (volume and storage health,
     * snapshot topology; this driver speaks CSI 1.12).
     */
    private static final int RAN_ALL_IN_ONE = 85;
    /**
     * With Controller and Node on separate endpoints: csi-sanity asks the node endpoint whether a controller is
     * there, finds none (as kubelet would) and skips the two specs that create volumes for the Node service; it asks
     * the node endpoint for the GroupController too, which is the controller's, and skips its 6.
     */
    private static final int RAN_SPLIT = 77;
    private static final Duration START_BOUND = Duration.ofSeconds(120);
    private static final String NODE = "sanity-node";

    private static CsiSanity sanity;
    /** Why csi-sanity cannot run on this machine, once found; each test says so (a class-level skip says nothing). */
    private static String unavailable;

    @TempDir
    static Path buildLogs;

    @TempDir
    Path dir;

    private NodeProcesses processes;
    private final List<NodeProcesses.Child> drivers = new ArrayList<>();
    private KubernetesMockServer api;

    @BeforeEach
    void setUp() throws Exception {
        if (sanity == null && unavailable == null) {
            try {
                sanity = CsiSanity.locate(buildLogs);
            } catch (TestAbortedException e) {
                unavailable = e.getMessage().replaceFirst("^Assumption failed: ", "");
            }
        }
        Assumptions.assumeTrue(unavailable == null, unavailable);
        processes = new NodeProcesses(dir);
    }

    @AfterEach
    void tearDown() throws Exception {
        // SIGTERM first: a standalone without a keeper unmounts what it still serves on the way out.
        for (NodeProcesses.Child c : drivers) {
            if (c.process().isAlive()) {
                c.terminate(Duration.ofSeconds(60));
            }
        }
        if (processes != null) {
            processes.close();
        }
        if (api != null) {
            api.destroy();
        }
        for (MountTable.Entry e : MountTable.read().reversed()) {
            if (Path.of(e.mountPoint()).startsWith(dir)) {
                MountProbe.repair(Path.of(e.mountPoint()), Duration.ofSeconds(2));
            }
        }
        CsiTestDriver.unmountEverythingUnder(dir);
    }

    @Test
    void standalone() throws Exception {
        Path socket = dir.resolve("csi.sock");
        start("standalone", List.of("standalone", "--endpoint", "unix://" + socket, "--node-id", NODE,
                "--state-dir", dir.resolve("state").toString(), "--backing-root", dir.resolve("backing").toString()),
                Map.of(), socket);
        check("standalone", sanity.run("standalone", dir.resolve("sanity"), "unix://" + socket, null, Map.of()),
                RAN_ALL_IN_ONE);
    }

    @Test
    void standaloneWithTheSharedBackend() throws Exception {
        Path socket = dir.resolve("csi.sock");
        start("standalone", List.of("standalone", "--endpoint", "unix://" + socket, "--node-id", NODE,
                "--state-dir", dir.resolve("state").toString(), "--backing-root", dir.resolve("backing").toString(),
                "--shared-root", Files.createDirectories(dir.resolve("shared")).toString()), Map.of(), socket);
        check("standalone, backend shared", sanity.run("standalone-shared", dir.resolve("sanity"), "unix://" + socket,
                null, Map.of("backend", "shared")), RAN_ALL_IN_ONE);
    }

    @Test
    void standaloneWithItsSessionsInTheDaemonBehindTheKeeper() throws Exception {
        Path socket = dir.resolve("csi.sock");
        start("standalone", List.of("standalone", "--endpoint", "unix://" + socket, "--node-id", NODE,
                "--state-dir", dir.resolve("state").toString(), "--backing-root", dir.resolve("backing").toString(),
                "--keeper-socket", processes.socket().toString(), "--state-root", dir.resolve("run").toString()),
                Map.of(), socket);
        NodeProcesses.Child fsd = processes.fsd();
        check("standalone + fsd", sanity.run("standalone-fsd", dir.resolve("sanity"), "unix://" + socket, null,
                Map.of()), RAN_ALL_IN_ONE);
        assertTrue(fsd.process().isAlive(), "efuse-csi fsd died during the run; its log: " + fsd.log());
    }

    /**
     * The cluster's roles: {@code efuse-csi controller} and {@code efuse-csi node} (its sessions in {@code efuse-csi
     * fsd} behind the keeper) on fabric8's mock API server in CRUD mode, which the test seeds with what kubelet's
     * registrar makes: the Node and its CSINode naming the driver.
     */
    @Test
    void controllerAndNodeOnAMockApiServer() throws Exception {
        api = new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(),
                new KubernetesCrudDispatcher(), false);
        api.init();
        try (KubernetesClient client = api.createClient()) {
            client.nodes().resource(new NodeBuilder().withNewMetadata().withName(NODE).endMetadata().build())
                    .create();
            client.storage().v1().csiNodes().resource(new CSINodeBuilder().withNewMetadata().withName(NODE)
                    .endMetadata().withNewSpec().addNewDriver().withName("efuse.csi.io").withNodeID(NODE).endDriver()
                    .endSpec().build()).create();
        }
        Map<String, String> kube = Map.of("KUBERNETES_MASTER", api.url("/"),
                "KUBERNETES_AUTH_TRYKUBECONFIG", "false", "KUBERNETES_AUTH_TRYSERVICEACCOUNT", "false",
                "KUBERNETES_NAMESPACE", "default", "KUBECONFIG", dir.resolve("no-kubeconfig").toString());
        Path controller = dir.resolve("controller.sock");
        Path node = dir.resolve("node.sock");
        start("controller", List.of("controller", "--endpoint", "unix://" + controller, "--wait-seconds", "60"),
                kube, controller);
        start("node", List.of("node", "--endpoint", "unix://" + node, "--node-id", NODE,
                "--state-dir", dir.resolve("state").toString(), "--backing-root", dir.resolve("backing").toString(),
                "--keeper-socket", processes.socket().toString(), "--state-root", dir.resolve("run").toString()),
                kube, node);
        NodeProcesses.Child fsd = processes.fsd();
        check("controller + node + fsd", sanity.run("controller-node", dir.resolve("sanity"), "unix://" + node,
                "unix://" + controller, Map.of()), RAN_SPLIT);
        assertTrue(fsd.process().isAlive(), "efuse-csi fsd died during the run; its log: " + fsd.log());
    }

    /** Starts {@code efuse-csi ARGS} and waits (bounded) until its endpoint answers Probe ready. */
    private void start(String role, List<String> args, Map<String, String> env, Path socket) throws Exception {
        NodeProcesses.Child c = processes.start(role, args, env);
        drivers.add(c);
        BoundedWait started = BoundedWait.upTo(START_BOUND).whileAlive(c.process()).explainedBy(() -> read(c.log()));
        started.until(role + "'s socket", () -> Files.exists(socket)); // nothing to wait on but the socket
        EventLoopGroup loop = new EpollEventLoopGroup(1);
        ManagedChannel channel = NettyChannelBuilder.forAddress(new DomainSocketAddress(socket.toString()))
                .channelType(EpollDomainSocketChannel.class).eventLoopGroup(loop).usePlaintext().build();
        try {
            var identity = IdentityGrpc.newBlockingStub(channel);
            // Probe has no way to wait for readiness
            started.every(Duration.ofMillis(100)).until(role + " to answer Probe ready", () -> {
                try {
                    return identity.probe(Csi.ProbeRequest.getDefaultInstance()).getReady().getValue();
                } catch (StatusRuntimeException e) {
                    return false; // not serving yet
                }
            });
        } finally {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            loop.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    private void check(String role, CsiSanity.Result r, int minRan) throws IOException {
        System.out.println("csi-sanity " + sanity.version + " against " + role + ": " + r.summary());
        if (!r.failures().isEmpty()) {
            fail(r.failures().size() + " csi-sanity specs failed against " + role + " (" + r.summary() + "):\n  "
                    + String.join("\n  ", r.failures().stream().map(CsiSanity.Failure::toString).toList())
                    + "\ncsi-sanity's output: " + r.log() + "; the driver's logs: target/fault-logs/"
                    + dir.getFileName());
        }
        assertEquals(0, r.exitCode(), () -> "csi-sanity exited " + r.exitCode() + " with no failed spec: " + r.log());
        assertTrue(r.ran() >= minRan, () -> "csi-sanity ran " + r.ran() + " specs against " + role + ", fewer than "
                + minRan + "; skipped:\n  " + String.join("\n  ", r.skippedSpecs()));
        for (NodeProcesses.Child c : drivers) {
            assertTrue(c.process().isAlive(), () -> c.log() + ": the driver died during the run");
        }
        List<String> left = new ArrayList<>();
        for (MountTable.Entry e : MountTable.read()) {
            if (Path.of(e.mountPoint()).startsWith(dir.resolve("sanity"))) {
                left.add(e.mountPoint());
            }
        }
        assertTrue(left.isEmpty(), () -> "the suite's cleanup left mounts behind: " + left);
    }

    private static String read(Path log) {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            return "(" + log + ": " + e.getMessage() + ")";
        }
    }
}
