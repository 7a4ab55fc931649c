package io.efuse.csi.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import csi.v1.ControllerGrpc;
import csi.v1.Csi;
import csi.v1.IdentityGrpc;
import csi.v1.NodeGrpc;
import io.efuse.csi.testing.Capabilities;
import io.efuse.csi.testing.ProcessRunner;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;
import org.slf4j.simple.SimpleLogger;
import picocli.CommandLine;

/** One log per process: one line format, and the level --log-level gives it reaching every logger. */
class ProcessLoggingTest {
    private static final Duration BOUND = Duration.ofSeconds(60);
    /** Time, thread, level, logger, message: {@code 2026-01-31T12:00:00.000Z [main] INFO a.b.C - text}. */
    private static final Pattern LINE = Pattern.compile(
            "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}(Z|[+-]\\d\\d:\\d\\d) \\[[^\\]]+] (ERROR|WARN|INFO|DEBUG|TRACE)"
                    + " [\\w.$]+ - .*");
    /** The debug line of a class that logged through System.Logger before. */
    private static final String FUSE_SESSION_DEBUG = "DEBUG io.efuse.csi.fuse.FuseSession - ";
    /** The debug line of a class that logged through slf4j before. */
    private static final String REQUEST_DEBUG = "DEBUG io.efuse.csi.csi.RequestLogging - ";

    @TempDir
    Path dir;

    @Test
    void debugLinesOfEveryKindOfLoggerAppearAtDebugAndNotAtInfo() throws Exception {
        Capabilities.assumeFuse();
        String debug = standaloneServingOneVolume("debug");
        assertTrue(debug.contains(FUSE_SESSION_DEBUG), debug);
        assertTrue(debug.contains(REQUEST_DEBUG), debug);
        // JNA's lines come through java.util.logging, which the level reaches too.
        assertTrue(debug.lines().anyMatch(l -> LINE.matcher(l).matches() && l.contains(" DEBUG com.sun.jna.")), debug);

        String info = standaloneServingOneVolume("info");
        assertTrue(info.contains("INFO io.efuse.csi.fuse.FuseSession - mounted "), info);
        assertTrue(info.contains("INFO io.efuse.csi.csi.CsiServer - CSI endpoint listening"), info);
        assertFalse(info.contains(" DEBUG "), info);
    }

    @Test
    void everyLineOfTheLogHasOneFormat() throws Exception {
        Capabilities.assumeFuse();
        String log = standaloneServingOneVolume("info");
        assertTrue(log.lines().count() >= 5, log);
        for (String line : log.lines().toList()) {
            assertTrue(LINE.matcher(line).matches(), () -> "not in the log's format: " + line + "\nin:\n" + log);
        }
    }

    @Test
    void everyRoleTakesTheFlag() {
        Map<String, CommandLine> roles = Main.commandLine().getSubcommands();
        for (String role : List.of("standalone", "controller", "node", "fsd", "keep", "mount")) {
            assertNotNull(roles.get(role).getCommandSpec().findOption("--log-level"), role);
        }
    }

    @Test
    void anUnknownLevelIsAUsageError() throws Exception {
        ProcessRunner.Result r = CliProcess.run(CliProcess.command("status", "--log-level", "loud"));
        assertEquals(ExitCodes.USAGE, r.exit(), r.output());
        assertTrue(r.output().contains("'loud' is no log level; use one of error, warn, info, debug, trace"),
                r.output());
    }

    @Test
    void aLevelSetAfterLoggingStartedIsRefused() {
        LogLevel running = ProcessLogging.levelOf(LoggerFactory.getLogger(ProcessLoggingTest.class));
        LogLevel other = running == LogLevel.TRACE ? LogLevel.ERROR : LogLevel.TRACE;
        String property = System.getProperty(SimpleLogger.DEFAULT_LOG_LEVEL_KEY);
        java.util.logging.Logger julRoot = java.util.logging.LogManager.getLogManager().getLogger("");
        java.util.logging.Level julLevel = julRoot.getLevel();
        try {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> ProcessLogging.level(other));
            assertTrue(e.getMessage().contains("came too late"), e.getMessage());
        } finally {
            if (property == null) {
                System.clearProperty(SimpleLogger.DEFAULT_LOG_LEVEL_KEY);
            } else {
                System.setProperty(SimpleLogger.DEFAULT_LOG_LEVEL_KEY, property);
            }
            julRoot.setLevel(julLevel);
        }
    }

    /**
     * Runs `efuse-csi standalone --log-level LEVEL`, creates and stages a volume through it, stops it, and returns
     * what it wrote.
     */
    private String standaloneServingOneVolume(String level) throws Exception {
        Path home = Files.createDirectory(dir.resolve(level));
        Path socket = home.resolve("csi.sock");
        File log = home.resolve("standalone.log").toFile();
        Process p = new ProcessBuilder(CliProcess.command("standalone", "--log-level", level,
                "--endpoint", "unix://" + socket, "--state-dir", home.resolve("state").toString(),
                "--backing-root", home.resolve("backing").toString(), "--engine", "daemon", "--node-id", "n1"))
                .redirectErrorStream(true).redirectOutput(log).start();
        EventLoopGroup loop = new EpollEventLoopGroup(1);
        ManagedChannel channel = null;
        try {
            long deadline = System.nanoTime() + BOUND.toNanos();
            while (!Files.exists(socket)) {
                assertTrue(p.isAlive(), () -> "standalone exited: " + read(log));
                assertTrue(System.nanoTime() < deadline, () -> "no CSI socket within " + BOUND + ": " + read(log));
                Thread.sleep(50); // a process starting up: nothing to wait on but its socket
            }
            channel = NettyChannelBuilder.forAddress(new DomainSocketAddress(socket.toString()))
                    .channelType(EpollDomainSocketChannel.class).eventLoopGroup(loop).usePlaintext().build();
            IdentityGrpc.newBlockingStub(channel).getPluginInfo(Csi.GetPluginInfoRequest.getDefaultInstance());
            Csi.VolumeCapability rwo = Csi.VolumeCapability.newBuilder()
                    .setMount(Csi.VolumeCapability.MountVolume.getDefaultInstance())
                    .setAccessMode(Csi.VolumeCapability.AccessMode.newBuilder()
                            .setMode(Csi.VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER)).build();
            String id = ControllerGrpc.newBlockingStub(channel).createVolume(Csi.CreateVolumeRequest.newBuilder()
                    .setName("logged").addVolumeCapabilities(rwo).setCapacityRange(
                            Csi.CapacityRange.newBuilder().setRequiredBytes(16L << 20)).build()).getVolume().getVolumeId();
            Path staging = home.resolve("staging");
            NodeGrpc.NodeBlockingStub node = NodeGrpc.newBlockingStub(channel);
            node.nodeStageVolume(Csi.NodeStageVolumeRequest.newBuilder().setVolumeId(id)
                    .setStagingTargetPath(staging.toString()).setVolumeCapability(rwo).build());
            node.nodeUnstageVolume(Csi.NodeUnstageVolumeRequest.newBuilder().setVolumeId(id)
                    .setStagingTargetPath(staging.toString()).build());
        } finally {
            if (channel != null) {
                channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            }
            loop.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
            p.destroy(); // SIGTERM
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "standalone did not stop on SIGTERM");
        }
        return read(log);
    }

    private static String read(File f) {
        try {
            return Files.readString(f.toPath());
        } catch (java.io.IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }
}
