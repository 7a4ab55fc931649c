package io.efuse.csi.sys;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SeqpacketSocketTest {
    @TempDir
    Path dir;

    @Test
    void passesMessagesWithDescriptorsThatStillReferToTheSameFile() throws Exception {
        Path sock = dir.resolve("s");
        Path file = dir.resolve("f");
        Files.writeString(file, "hello");
        try (SeqpacketSocket server = SeqpacketSocket.listen(sock)) {
            CompletableFuture<SeqpacketSocket> accepted = CompletableFuture.supplyAsync(() -> {
                try {
                    return server.accept();
                } catch (ErrnoException e) {
                    throw new RuntimeException(e);
                }
            });
            try (SeqpacketSocket client = SeqpacketSocket.connect(sock);
                    SeqpacketSocket peer = accepted.get(10, TimeUnit.SECONDS)) {
                int fd = Syscalls.open(file, LinuxConstants.O_RDONLY, 0);
                client.send("one".getBytes(StandardCharsets.UTF_8), new int[] {fd, fd});
                client.send("two".getBytes(StandardCharsets.UTF_8), new int[0]);
                Syscalls.close(fd);
                SeqpacketSocket.Message m = peer.receive();
                assertEquals("one", new String(m.body(), StandardCharsets.UTF_8));
                assertEquals(2, m.fds().length);
                assertEquals(FileHandle.of(m.fds()[0]), FileHandle.of(m.fds()[1]));
                java.nio.ByteBuffer b = NativeMemory.allocate(16);
                assertEquals(5, LibC.pread(m.fds()[0], NativeMemory.address(b), 16, 0));
                for (int x : m.fds()) {
                    Syscalls.close(x);
                }
                SeqpacketSocket.Message m2 = peer.receive();
                assertEquals("two", new String(m2.body(), StandardCharsets.UTF_8));
                assertEquals(0, m2.fds().length);
                client.close();
                assertNull(peer.receive(), "end of stream after the peer closed");
            }
        }
    }

    /**
     * A peer that sends, then closes with a message of ours unread: the kernel reports ECONNRESET first, before what
     * the peer sent, and the messages must still be read (a daemon handing over sends its descriptors so).
     */
    @Test
    void messagesAPeerSentBeforeClosingWithOursUnreadAreStillReceived() throws Exception {
        Path sock = dir.resolve("s");
        try (SeqpacketSocket server = SeqpacketSocket.listen(sock)) {
            CompletableFuture<SeqpacketSocket> accepted = CompletableFuture.supplyAsync(() -> {
                try {
                    return server.accept();
                } catch (ErrnoException e) {
                    throw new RuntimeException(e);
                }
            });
            SeqpacketSocket client = SeqpacketSocket.connect(sock);
            try (SeqpacketSocket peer = accepted.get(10, TimeUnit.SECONDS)) {
                peer.send("never read".getBytes(StandardCharsets.UTF_8), new int[0]);
                client.send("hold".getBytes(StandardCharsets.UTF_8), new int[0]);
                client.send("detached".getBytes(StandardCharsets.UTF_8), new int[0]);
                client.close(); // with "never read" in its queue: the peer's socket gets ECONNRESET
                assertEquals("hold", new String(peer.receive().body(), StandardCharsets.UTF_8));
                assertEquals("detached", new String(peer.receive().body(), StandardCharsets.UTF_8));
                assertNull(peer.receive(), "then the end of the stream");
            }
        }
    }

    @Test
    void connectingToNothingNamesThePathAndErrno() {
        ErrnoException e = assertThrows(ErrnoException.class, () -> SeqpacketSocket.connect(dir.resolve("none")));
        assertEquals(Errno.ENOENT, e.errno());
        assertTrue(e.getMessage().contains("none"));
    }

    @Test
    void fileHandleReopensTheSameFileAfterItsPathChanged() throws Exception {
        Path file = dir.resolve("a");
        Files.writeString(file, "data");
        int fd = Syscalls.open(file, LinuxConstants.O_PATH, 0);
        FileHandle h = FileHandle.of(fd);
        Files.move(file, dir.resolve("b"));
        int root = Syscalls.open(dir, LinuxConstants.O_RDONLY | LinuxConstants.O_DIRECTORY, 0);
        int again = h.open(root, LinuxConstants.O_RDONLY);
        java.nio.ByteBuffer b = NativeMemory.allocate(16);
        assertEquals(4, LibC.pread(again, NativeMemory.address(b), 16, 0));
        Syscalls.close(again);
        Syscalls.close(root);
        Syscalls.close(fd);
    }
}
