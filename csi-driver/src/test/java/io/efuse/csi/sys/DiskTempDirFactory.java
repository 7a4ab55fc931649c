package io.efuse.csi.sys;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.extension.AnnotatedElementContext;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.io.TempDirFactory;

/**
 * Temporary directories on a disk filesystem: images there must be sparse and take direct I/O as a disk does,
 * which a tmpfs /tmp does not show. Falls back from java.io.tmpdir to the build directory when tmpdir is a tmpfs.
 */
public final class DiskTempDirFactory implements TempDirFactory {
    @Override
    public Path createTempDirectory(AnnotatedElementContext elementContext, ExtensionContext extensionContext)
            throws IOException {
        Path tmp = Path.of(System.getProperty("java.io.tmpdir"));
        if (Files.getFileStore(tmp).type().equals("tmpfs")) {
            tmp = Files.createDirectories(Path.of("target", "disk-tmp").toAbsolutePath());
        }
        return Files.createTempDirectory(tmp, "junit-disk");
    }
}
