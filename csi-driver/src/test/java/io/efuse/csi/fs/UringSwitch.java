package io.efuse.csi.fs;

import io.efuse.csi.fuse.UringQueues;
import io.efuse.csi.testing.Capabilities;
import java.io.IOException;
import java.nio.file.Files;
import org.junit.jupiter.api.Assumptions;

/** Turns the fuse module's enable_uring on for a test and puts the old value back afterwards. */
public final class UringSwitch implements AutoCloseable {
    private final String before;

    private UringSwitch(String before) {
        this.before = before;
    }

    /** Skips the test, saying why, on kernels without FUSE-over-io_uring (before Linux 6.14). */
    public static UringSwitch on() throws IOException {
        return set("Y");
    }

    /** Sets the switch to Y or N (N: new connections are not offered io_uring). */
    public static UringSwitch set(String value) throws IOException {
        Capabilities.assumeFuse();
        Assumptions.assumeTrue(Files.exists(UringQueues.ENABLE_URING),
                "skipped: " + UringQueues.ENABLE_URING + " is missing: this kernel has no FUSE-over-io_uring"
                        + " (Linux 6.14+ with CONFIG_FUSE_IO_URING)");
        String before = Files.readString(UringQueues.ENABLE_URING).trim();
        Files.writeString(UringQueues.ENABLE_URING, value);
        return new UringSwitch(before);
    }

    @Override
    public void close() throws IOException {
        Files.writeString(UringQueues.ENABLE_URING, before);
    }
}
