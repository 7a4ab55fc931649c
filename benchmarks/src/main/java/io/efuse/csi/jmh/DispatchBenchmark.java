package io.efuse.csi.jmh;

import io.efuse.csi.fuse.FuseOpcode;
import io.efuse.csi.fuse.FuseReply;
import io.efuse.csi.fuse.FuseRequest;
import io.efuse.csi.fuse.RequestDispatcher;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One request from the transport's buffer to a sealed reply: accept, route by opcode to a filesystem
 * that answers from constants, encode, seal. Run with {@code -prof gc}: every case must show ~0 B/op.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@State(Scope.Thread)
public class DispatchBenchmark {
    final FakeFilesystem fs = new FakeFilesystem();
    FuseRequest getattr, lookup, write, read, splitLookup;
    int getattrLen, lookupLen, writeLen, readLen;
    FuseReply reply;
    FuseReply entryReply;

    @Setup
    public void setup() {
        getattr = new FuseRequest(Requests.buffer(4096));
        getattrLen = Requests.contiguous(getattr.buffer(), FuseOpcode.GETATTR, 0);
        lookup = new FuseRequest(Requests.buffer(4096));
        lookupLen = Requests.contiguous(lookup.buffer(), FuseOpcode.LOOKUP, 0);
        write = new FuseRequest(Requests.buffer(64 * 1024));
        writeLen = Requests.contiguous(write.buffer(), FuseOpcode.WRITE, 4096);
        read = new FuseRequest(Requests.buffer(4096));
        readLen = Requests.contiguous(read.buffer(), FuseOpcode.READ, 4096);
        reply = new FuseReply(Requests.buffer(1024 * 1024 + 4096));
        ByteBuffer header = Requests.buffer(288);
        ByteBuffer payload = Requests.buffer(1024 * 1024);
        splitLookup = Requests.splitLookup(header, payload);
        entryReply = new FuseReply(header);
        entryReply.bindPayload(Requests.buffer(64 * 1024), 0, 64 * 1024);
    }

    private int serve(FuseRequest rq, int len, FuseReply rp) {
        rq.acceptContiguous(len);
        RequestDispatcher.dispatch(fs, rq, rp);
        return rp.seal();
    }

    @Benchmark
    public int getattr() {
        return serve(getattr, getattrLen, reply);
    }

    @Benchmark
    public int lookup() {
        return serve(lookup, lookupLen, reply);
    }

    @Benchmark
    public int write4k() {
        return serve(write, writeLen, reply);
    }

    @Benchmark
    public int read4k() {
        return serve(read, readLen, reply);
    }

    /** A LOOKUP as a FUSE-over-io_uring entry holds it: header in in_out, name in the payload. */
    @Benchmark
    public int lookupUringEntry() {
        splitLookup.nextSplit(0, Requests.NAME.length);
        RequestDispatcher.dispatch(fs, splitLookup, entryReply);
        return entryReply.seal();
    }
}
