package io.efuse.csi.jmh;

import io.efuse.csi.fuse.FuseOpcode;
import io.efuse.csi.fuse.FuseReply;
import io.efuse.csi.fuse.FuseRequest;
import io.efuse.csi.fuse.FuseStructs.Attr;
import io.efuse.csi.fuse.FuseStructs.AttrOut;
import io.efuse.csi.fuse.FuseStructs.WriteIn;
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

/** Decoding requests and encoding replies, without any filesystem work. */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@State(Scope.Thread)
public class CodecBenchmark {
    FuseRequest write;
    int writeLength;
    FuseRequest splitLookup;
    FuseReply reply;

    @Setup
    public void setup() {
        ByteBuffer wb = Requests.buffer(64 * 1024);
        writeLength = Requests.contiguous(wb, FuseOpcode.WRITE, 4096);
        write = new FuseRequest(wb);
        splitLookup = Requests.splitLookup(Requests.buffer(288), Requests.buffer(64 * 1024));
        reply = new FuseReply(Requests.buffer(64 * 1024));
    }

    /** Accepting a /dev/fuse WRITE and reading the fields a write needs. */
    @Benchmark
    public long parseWrite() {
        if (!write.acceptContiguous(writeLength)) {
            return -1;
        }
        return write.opcode() + write.unique() + write.nodeId() + write.uid() + write.u64(WriteIn.FH)
                + write.u64(WriteIn.OFFSET) + write.u32(WriteIn.SIZE_) + write.argAddress(WriteIn.SIZE);
    }

    /** Taking the next io_uring LOOKUP in an entry and measuring its name. */
    @Benchmark
    public long parseSplitLookup() {
        splitLookup.nextSplit(0, Requests.NAME.length);
        return splitLookup.opcode() + splitLookup.nodeId() + splitLookup.stringLength(0)
                + (splitLookup.isDotOrDotDot(0) ? 1 : 0) + splitLookup.argAddress(0);
    }

    /** Building a GETATTR reply: zeroed fuse_attr_out, every field, sealed header. */
    @Benchmark
    public int encodeAttrReply() {
        FuseReply rp = reply;
        rp.begin(77);
        rp.zero(0, AttrOut.SIZE);
        rp.putU64(AttrOut.ATTR_VALID, 60);
        int a = AttrOut.ATTR;
        rp.putU64(a + Attr.INO, 5);
        rp.putU64(a + Attr.SIZE_, 4096);
        rp.putU64(a + Attr.BLOCKS, 8);
        rp.putU64(a + Attr.ATIME, 1_700_000_000L);
        rp.putU64(a + Attr.MTIME, 1_700_000_000L);
        rp.putU64(a + Attr.CTIME, 1_700_000_000L);
        rp.putU32(a + Attr.MODE, 0100644);
        rp.putU32(a + Attr.NLINK, 1);
        rp.putU32(a + Attr.UID, 1000);
        rp.putU32(a + Attr.GID, 1000);
        rp.putU32(a + Attr.BLKSIZE, 4096);
        rp.payloadLength(AttrOut.SIZE);
        return rp.seal();
    }
}
