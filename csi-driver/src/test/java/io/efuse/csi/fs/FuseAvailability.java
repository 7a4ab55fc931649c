package io.efuse.csi.fs;

import io.efuse.csi.sys.LibC;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;

/** Tests that mount FUSE need root and /dev/fuse; they say so when they cannot run. */
public final class FuseAvailability {
    private FuseAvailability() {}

    public static void assumeFuseMountable() {
        Assumptions.assumeTrue(LibC.geteuid() == 0,
                "skipped: mounting FUSE needs root (CAP_SYS_ADMIN); run the suite as root");
        Assumptions.assumeTrue(Files.exists(Path.of("/dev/fuse")),
                "skipped: /dev/fuse is missing, this kernel or container has no FUSE");
    }
}
