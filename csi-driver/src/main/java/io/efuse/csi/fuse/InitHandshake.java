package io.efuse.csi.fuse;

import io.efuse.csi.fuse.FuseStructs.InHeader;
import io.efuse.csi.fuse.FuseStructs.InitIn;
import io.efuse.csi.fuse.FuseStructs.InitOut;
import io.efuse.csi.sys.Errno;
import io.efuse.csi.sys.ErrnoException;
import io.efuse.csi.sys.LibC;
import io.efuse.csi.sys.NativeMemory;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * The INIT handshake of a new mount: reads the kernel's INIT from the device, has {@link InitNegotiation} settle
 * it and replies (again, with our major, when the kernel speaks a different one).
 */
final class InitHandshake {
    /**
     * What the handshake settled.
     *
     * @param kernelMinor the protocol minor the kernel offered
     * @param kernelFlags the INIT flags the kernel offered (both words)
     */
    record Agreed(InitNegotiation.Result result, int kernelMinor, long kernelFlags) {}

    private InitHandshake() {
    }

    /** Answers the kernel's INIT on deviceFd; returns once the reply that settles it has been written. */
    static Agreed run(int deviceFd, InitNegotiation negotiation) throws IOException {
        ByteBuffer in = NativeMemory.allocateUntouched(FuseAbi.MIN_READ_BUFFER);
        try {
            return readInit(deviceFd, negotiation, in);
        } finally {
            NativeMemory.free(in);
        }
    }

    private static Agreed readInit(int deviceFd, InitNegotiation negotiation, ByteBuffer in) throws IOException {
        ByteBuffer out = NativeMemory.allocate(InitOut.SIZE + 16);
        FuseRequest rq = new FuseRequest(in);
        FuseReply rp = new FuseReply(out);
        while (true) {
            long n = LibC.read(deviceFd, rq.address(), in.capacity());
            if (n < 0) {
                int errno = LibC.errno();
                if (errno == Errno.EINTR) {
                    continue;
                }
                throw new ErrnoException("read INIT", "/dev/fuse", errno);
            }
            if (!rq.accept((int) n) || rq.opcode() != FuseOpcode.INIT) {
                throw new IOException("expected FUSE INIT from the kernel, got "
                        + (n >= InHeader.SIZE ? FuseOpcode.name(rq.opcode()) : n + " bytes"));
            }
            int major = rq.u32(InitIn.MAJOR);
            int minor = rq.u32(InitIn.MINOR);
            long kflags = rq.u32(InitIn.FLAGS) & 0xffffffffL;
            if ((kflags & FuseAbi.INIT_EXT) != 0 && rq.argLength() >= InitIn.SIZE) {
                kflags |= (rq.u32(InitIn.FLAGS2) & 0xffffffffL) << 32;
            }
            InitNegotiation.Result r = negotiation.negotiate(major, minor, kflags,
                    rq.u32(InitIn.MAX_READAHEAD));
            rp.begin(rq.unique());
            if (r.minor() < 0) {
                rp.putU32(InitOut.MAJOR, r.major());
                rp.putU32(InitOut.MINOR, 0);
                rp.payloadLength(8);
                FuseDevice.send(deviceFd, rp);
                continue; // the kernel retries INIT with our major
            }
            rp.zero(0, InitOut.SIZE);
            rp.putU32(InitOut.MAJOR, r.major());
            rp.putU32(InitOut.MINOR, r.minor());
            rp.putU32(InitOut.MAX_READAHEAD, r.maxReadahead());
            rp.putU32(InitOut.FLAGS, (int) r.flags());
            rp.putU16(InitOut.MAX_BACKGROUND, r.maxBackground());
            rp.putU16(InitOut.CONGESTION_THRESHOLD, r.congestionThreshold());
            rp.putU32(InitOut.MAX_WRITE, r.maxWrite());
            rp.putU32(InitOut.TIME_GRAN, r.timeGran());
            rp.putU16(InitOut.MAX_PAGES, r.maxPages());
            rp.putU32(InitOut.FLAGS2, (int) (r.flags() >>> 32));
            rp.putU32(InitOut.MAX_STACK_DEPTH, r.maxStackDepth());
            rp.payloadLength(InitOut.SIZE);
            if (FuseDevice.send(deviceFd, rp) < 0) {
                throw new ErrnoException("reply INIT", "/dev/fuse", LibC.errno());
            }
            return new Agreed(r, minor, kflags);
        }
    }
}
