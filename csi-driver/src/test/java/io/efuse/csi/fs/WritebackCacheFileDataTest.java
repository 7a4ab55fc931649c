package io.efuse.csi.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.efuse.csi.fuse.FuseOpcode;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * File contents through eFuse mounts that ask for the kernel's writeback cache, compared with native.
 * The classic tier takes it; the passthrough tier does not combine with it and stays passthrough.
 */
class WritebackCacheFileDataTest extends FileDataScenarios {
    @RegisterExtension
    static final ComparedVolumes volumes = new ComparedVolumes(b -> b.writebackCache(true));

    @Override
    ComparedVolumes volumes() {
        return volumes;
    }

    @Test
    void theClassicTierCachesWritesUntilFsync() throws Exception {
        EfuseMount m = volumes.mount(Tier.CLASSIC);
        assertEquals(Tier.CLASSIC, m.tier());
        Path f = volumes.workspace(Tier.CLASSIC).mountDir().resolve("cached");
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            long writes = m.requests(FuseOpcode.WRITE);
            ch.write(ByteBuffer.wrap(new byte[] {1, 2, 3}));
            // With the writeback cache the data sits in the kernel's page cache until written back.
            assertEquals(writes, m.requests(FuseOpcode.WRITE), "a WRITE request was sent at write(2)");
            ch.force(true);
            assertTrue(m.requests(FuseOpcode.WRITE) > writes, "fsync sent no WRITE");
        }
    }

    @Test
    void thePassthroughTierStaysPassthrough() {
        assertEquals(Tier.PASSTHROUGH, volumes.mount(Tier.PASSTHROUGH).tier());
    }
}
