package io.efuse.csi.bpf;

import com.sun.jna.Pointer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Polls a BPF ring buffer on its own thread and hands each record, copied, to a consumer. Closing stops the thread
 * within one poll interval and frees the native ring buffer.
 */
public final class RingBufferPoller implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(RingBufferPoller.class);
    private static final int POLL_MS = 100;
    private static final int EINTR = 4;

    private final Libbpf libbpf;
    private final String name;
    private final Pointer rb;
    private final Consumer<ByteBuffer> consumer;
    // referenced from here so that the native side never calls a collected callback
    private final LibbpfNative.SampleCallback sample;
    private final Thread thread;
    private volatile boolean stopping;
    private boolean freed;

    public RingBufferPoller(Libbpf libbpf, BpfMap ringBuffer, Consumer<ByteBuffer> consumer) {
        if (ringBuffer.type() != BpfMapType.RINGBUF) {
            throw new IllegalArgumentException("map " + ringBuffer.name() + " is not a ring buffer");
        }
        this.libbpf = libbpf;
        this.name = ringBuffer.name();
        this.consumer = consumer;
        this.sample = this::deliver;
        this.rb = libbpf.callPointer("open ring buffer", name,
                () -> libbpf.lib().ring_buffer__new(ringBuffer.fd(), sample, null, null));
        this.thread = Thread.ofPlatform().daemon().name("bpf-ringbuf-" + name).start(this::run);
    }

    private int deliver(Pointer ctx, Pointer data, long size) {
        ByteBuffer copy = ByteBuffer.wrap(data.getByteArray(0, (int) size)).order(ByteOrder.nativeOrder());
        try {
            consumer.accept(copy);
        } catch (RuntimeException e) {
            LOG.warn("ring buffer {}: consumer failed on a {}-byte record", name, size, e);
        }
        return 0;
    }

    private void run() {
        while (!stopping) {
            int rc = libbpf.lib().ring_buffer__poll(rb, POLL_MS);
            if (rc < 0 && rc != -EINTR) {
                LOG.warn("ring buffer {}: poll failed: {} (errno {}); polling stops", name, libbpf.strerror(-rc), -rc);
                return;
            }
        }
    }

    @Override
    public void close() {
        stopping = true;
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return; // the thread may still use rb: leave it allocated rather than free it under the poller
        }
        synchronized (this) {
            if (!freed) {
                libbpf.lib().ring_buffer__free(rb);
                freed = true;
            }
        }
    }
}
