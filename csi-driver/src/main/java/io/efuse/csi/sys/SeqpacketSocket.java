package io.efuse.csi.sys;

import static io.efuse.csi.sys.LinuxConstants.*;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * An AF_UNIX SOCK_SEQPACKET socket: message boundaries are kept and each message may carry file
 * descriptors (SCM_RIGHTS), which the JDK's unix-domain channels cannot pass. One sender and one
 * receiver thread at a time each (send and receive use separate native buffers).
 */
public final class SeqpacketSocket implements AutoCloseable {
    /** Largest message body; bigger ones are refused by {@link #send}. */
    public static final int MAX_MESSAGE = 256 * 1024;
    /** At most this many descriptors per message (the kernel's SCM_MAX_FD is 253). */
    public static final int MAX_FDS = 253;

    private static final int MSGHDR = 56;
    private static final int IOVEC = 16;
    private static final int CMSG_HEADER = 16;
    private static final int CONTROL = CMSG_HEADER + MAX_FDS * 4 + 4;

    /** A received message and the descriptors that came with it (now owned by the receiver). */
    public record Message(byte[] body, int[] fds) {}

    private final int fd;
    private final String name;
    private final ByteBuffer sendHeader = NativeMemory.allocate(MSGHDR + IOVEC + CONTROL);
    private final ByteBuffer receiveHeader = NativeMemory.allocate(MSGHDR + IOVEC + CONTROL);
    private final ByteBuffer sendBody = NativeMemory.allocate(MAX_MESSAGE);
    private final ByteBuffer receiveBody = NativeMemory.allocate(MAX_MESSAGE);
    private volatile boolean closed;

    private SeqpacketSocket(int fd, String name) {
        this.fd = fd;
        this.name = name;
    }

    /** A listening socket at path (a stale socket file left by a dead process is replaced). */
    public static SeqpacketSocket listen(Path path) throws ErrnoException {
        int fd = newSocket(path);
        ByteBuffer addr = address(path);
        java.io.File f = path.toFile();
        if (f.exists() && !f.isDirectory()) {
            f.delete();
        }
        if (LibC.bind(fd, NativeMemory.address(addr), addr.limit()) < 0 || LibC.listen(fd, 16) < 0) {
            int errno = LibC.errno();
            LibC.close(fd);
            throw new ErrnoException("bind/listen", path.toString(), errno);
        }
        // Whoever connects may be handed descriptors: only the owner (root) may.
        ByteBuffer p = NativeMemory.cString(path.toString());
        LibC.fchmodat(LinuxConstants.AT_FDCWD, NativeMemory.address(p), 0600, 0);
        return new SeqpacketSocket(fd, path.toString());
    }

    /** Connects to a listening socket at path. */
    public static SeqpacketSocket connect(Path path) throws ErrnoException {
        int fd = newSocket(path);
        ByteBuffer addr = address(path);
        if (LibC.connect(fd, NativeMemory.address(addr), addr.limit()) < 0) {
            int errno = LibC.errno();
            LibC.close(fd);
            throw new ErrnoException("connect", path.toString(), errno);
        }
        return new SeqpacketSocket(fd, path.toString());
    }

    private static int newSocket(Path path) throws ErrnoException {
        int fd = LibC.socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            throw new ErrnoException("socket", path.toString(), LibC.errno());
        }
        return fd;
    }

    private static ByteBuffer address(Path path) {
        byte[] p = path.toString().getBytes(StandardCharsets.UTF_8);
        if (p.length > 107) {
            throw new IllegalArgumentException("unix socket path longer than 107 bytes: " + path);
        }
        ByteBuffer a = NativeMemory.allocate(110);
        a.putShort(0, (short) AF_UNIX);
        a.put(2, p);
        a.put(2 + p.length, (byte) 0);
        a.limit(2 + p.length + 1);
        return a;
    }

    /** Waits for the next connection. */
    public SeqpacketSocket accept() throws ErrnoException {
        while (true) {
            int c = LibC.accept4(fd, 0, 0, SOCK_CLOEXEC);
            if (c >= 0) {
                return new SeqpacketSocket(c, name);
            }
            int errno = LibC.errno();
            if (errno != Errno.EINTR) {
                throw new ErrnoException("accept", name, errno);
            }
        }
    }

    /** Sends body with fds attached (the caller keeps its own descriptors). */
    private final java.util.concurrent.atomic.AtomicBoolean released = new java.util.concurrent.atomic.AtomicBoolean();

    public void send(byte[] body, int[] fds) throws ErrnoException {
        synchronized (sendHeader) {
            sendLocked(body, fds);
        }
    }

    private void sendLocked(byte[] body, int[] fds) throws ErrnoException {
        if (body.length > MAX_MESSAGE || body.length == 0) {
            throw new IllegalArgumentException("message of " + body.length + " bytes (1.." + MAX_MESSAGE + ")");
        }
        if (fds.length > MAX_FDS) {
            throw new IllegalArgumentException(fds.length + " descriptors in one message (max " + MAX_FDS + ")");
        }
        sendBody.put(0, body);
        long base = NativeMemory.address(sendHeader);
        ByteBuffer h = sendHeader;
        h.putLong(0, 0).putLong(8, 0);
        h.putLong(16, base + MSGHDR).putLong(24, 1);
        h.putLong(MSGHDR, NativeMemory.address(sendBody)).putLong(MSGHDR + 8, body.length);
        if (fds.length > 0) {
            int c = MSGHDR + IOVEC;
            h.putLong(c, CMSG_HEADER + 4L * fds.length).putInt(c + 8, SOL_SOCKET).putInt(c + 12, SCM_RIGHTS);
            for (int i = 0; i < fds.length; i++) {
                h.putInt(c + CMSG_HEADER + 4 * i, fds[i]);
            }
            h.putLong(32, base + c).putLong(40, (CMSG_HEADER + 4L * fds.length + 7) & ~7L);
        } else {
            h.putLong(32, 0).putLong(40, 0);
        }
        h.putInt(48, 0);
        while (true) {
            long n = LibC.sendmsg(fd, base, MSG_NOSIGNAL);
            if (n >= 0) {
                return;
            }
            int errno = LibC.errno();
            if (errno != Errno.EINTR) {
                throw new ErrnoException("sendmsg", name, errno);
            }
        }
    }

    /** The next message, or null when the peer closed the connection. */
    public Message receive() throws ErrnoException {
        synchronized (receiveHeader) {
            return receiveLocked();
        }
    }

    private Message receiveLocked() throws ErrnoException {
        long base = NativeMemory.address(receiveHeader);
        ByteBuffer h = receiveHeader;
        boolean resetSeen = false;
        while (true) {
            h.putLong(0, 0).putLong(8, 0);
            h.putLong(16, base + MSGHDR).putLong(24, 1);
            h.putLong(MSGHDR, NativeMemory.address(receiveBody)).putLong(MSGHDR + 8, MAX_MESSAGE);
            h.putLong(32, base + MSGHDR + IOVEC).putLong(40, CONTROL);
            h.putInt(48, 0);
            long n = LibC.recvmsg(fd, base, MSG_CMSG_CLOEXEC);
            if (n < 0) {
                int errno = LibC.errno();
                if (errno == Errno.EINTR) {
                    continue;
                }
                if (errno == Errno.ECONNRESET && !resetSeen) {
                    // A peer that closed with our messages unread leaves ECONNRESET, reported before the messages it
                    // sent first and still queued here (a daemon that handed over: its HOLDs carry the descriptors).
                    // Reporting it cleared it: read on, to what is queued and then the end of the stream.
                    resetSeen = true;
                    continue;
                }
                if (errno == Errno.ECONNRESET || (closed && (errno == Errno.EBADF || errno == Errno.EINVAL))) {
                    return null;
                }
                throw new ErrnoException("recvmsg", name, errno);
            }
            int[] fds = controlFds(h);
            if ((h.getInt(48) & MSG_CTRUNC) != 0) {
                for (int x : fds) {
                    LibC.close(x);
                }
                throw new ErrnoException("recvmsg (descriptors truncated)", name, Errno.EMFILE);
            }
            if (n == 0 && fds.length == 0) {
                return null; // orderly shutdown by the peer
            }
            byte[] body = new byte[(int) n];
            receiveBody.get(0, body);
            return new Message(body, fds);
        }
    }

    private static int[] controlFds(ByteBuffer h) {
        long controlLen = h.getLong(40);
        int c = MSGHDR + IOVEC;
        int[] out = new int[0];
        int off = 0;
        while (off + CMSG_HEADER <= controlLen) {
            long len = h.getLong(c + off);
            if (len < CMSG_HEADER) {
                break;
            }
            if (h.getInt(c + off + 8) == SOL_SOCKET && h.getInt(c + off + 12) == SCM_RIGHTS) {
                int n = (int) (len - CMSG_HEADER) / 4;
                int[] more = new int[out.length + n];
                System.arraycopy(out, 0, more, 0, out.length);
                for (int i = 0; i < n; i++) {
                    more[out.length + i] = h.getInt(c + off + CMSG_HEADER + 4 * i);
                }
                out = more;
            }
            off += (int) ((len + 7) & ~7L);
        }
        return out;
    }

    /** Wakes a thread blocked in {@link #receive} or {@link #accept} (it sees end of stream). */
    public void shutdown() {
        synchronized (released) {
            closed = true;
            if (!released.get()) {
                LibC.shutdown(fd, SHUT_RDWR);
            }
        }
    }

    /**
     * Closes the socket once: a second close, or a shutdown after it, would act on whatever descriptor took the
     * number meanwhile (in an fd keeper, a held /dev/fuse descriptor).
     */
    @Override
    public void close() {
        synchronized (released) {
            shutdown();
            if (released.compareAndSet(false, true)) {
                LibC.close(fd);
            }
        }
    }

    @Override
    public String toString() {
        return "unix socket " + name;
    }
}
