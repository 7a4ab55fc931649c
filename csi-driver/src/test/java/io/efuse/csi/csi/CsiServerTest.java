package io.efuse.csi.csi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import csi.v1.Csi;
import csi.v1.IdentityGrpc;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.ChannelOption;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CsiServerTest {
    @TempDir
    Path dir;

    @Test
    void connectionsOverTheUnixSocketLogNoUnknownChannelOption() throws Exception {
        // The logger writes to whatever System.err is when a line is written, so the server's lines land here.
        PrintStream stderr = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        String log;
        try {
            try (CsiServer server = CsiServer.start("unix://" + dir.resolve("csi.sock"),
                    List.of(new IdentityService("efuse.csi.io", "test", true, false, List.of())), Duration.ofSeconds(1))) {
                for (int i = 0; i < 3; i++) {
                    assertEquals("efuse.csi.io", pluginName(server.socket()));
                }
            }
        } finally {
            System.setErr(stderr);
            log = captured.toString(StandardCharsets.UTF_8);
            System.err.print(log);
        }
        assertTrue(log.contains("CSI endpoint listening"), "the server's own lines reach the captured stream:\n" + log);
        assertFalse(log.contains("Unknown channel option"), log);
    }

    /** One connection of its own, as each sidecar and kubelet opens; the server's children are what is checked. */
    private static String pluginName(Path socket) throws InterruptedException {
        EventLoopGroup loop = new EpollEventLoopGroup(1);
        // Kubelet and the sidecars are Go programs; only this test's client is netty, and it asks for no TCP option.
        ManagedChannel channel = NettyChannelBuilder.forAddress(new DomainSocketAddress(socket.toString()))
                .channelType(EpollDomainSocketChannel.class).eventLoopGroup(loop)
                .withOption(ChannelOption.SO_KEEPALIVE, null).usePlaintext().build();
        try {
            return IdentityGrpc.newBlockingStub(channel).getPluginInfo(Csi.GetPluginInfoRequest.getDefaultInstance())
                    .getName();
        } finally {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            loop.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }
}
