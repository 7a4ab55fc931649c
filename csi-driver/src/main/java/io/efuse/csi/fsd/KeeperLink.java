package io.efuse.csi.fsd;

import io.efuse.csi.sys.ErrnoException;
import io.efuse.csi.sys.SeqpacketSocket;
import java.io.IOException;

/** One end of a keeper–daemon connection: sends and receives {@link KeeperMessage}s. */
final class KeeperLink implements AutoCloseable {
    private final SeqpacketSocket socket;

    KeeperLink(SeqpacketSocket socket) {
        this.socket = socket;
    }

    void send(KeeperMessage m) throws ErrnoException {
        socket.send(m.encode(), m.fds());
    }

    /** The next message, or null at end of stream (the peer is gone). */
    KeeperMessage receive() throws IOException {
        SeqpacketSocket.Message m = socket.receive();
        if (m == null) {
            return null;
        }
        try {
            return KeeperMessage.decode(m.body(), m.fds());
        } catch (IOException e) {
            for (int fd : m.fds()) {
                io.efuse.csi.sys.Syscalls.close(fd);
            }
            throw e;
        }
    }

    void shutdown() {
        socket.shutdown();
    }

    @Override
    public void close() {
        socket.close();
    }
}
