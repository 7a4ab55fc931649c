package io.efuse.csi.volume;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;

/** Hands a volume's files to the group a CSI request names (volume_mount_group). */
public final class GroupOwnership {
    private GroupOwnership() {
    }

    /**
     * What kubelet does for fsGroup when the driver does not: the volume's files belong to the group, directories
     * are setgid so that new files inherit it, and the group may read and write. The walk runs only when the root
     * is not yet the group's, so a volume already handed over is not walked at every mount.
     */
    public static void apply(Path dir, int gid) throws IOException {
        int current = (Integer) Files.getAttribute(dir, "unix:gid", LinkOption.NOFOLLOW_LINKS);
        int mode = (Integer) Files.getAttribute(dir, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        if (current == gid && (mode & 02070) == 02070) {
            return;
        }
        Files.walkFileTree(dir, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path d, BasicFileAttributes attrs) throws IOException {
                Files.setAttribute(d, "unix:gid", gid, LinkOption.NOFOLLOW_LINKS);
                int m = (Integer) Files.getAttribute(d, "unix:mode", LinkOption.NOFOLLOW_LINKS);
                Files.setAttribute(d, "unix:mode", (m & 07777) | 02070, LinkOption.NOFOLLOW_LINKS);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path f, BasicFileAttributes attrs) throws IOException {
                Files.setAttribute(f, "unix:gid", gid, LinkOption.NOFOLLOW_LINKS);
                if (attrs.isRegularFile()) {
                    int m = (Integer) Files.getAttribute(f, "unix:mode", LinkOption.NOFOLLOW_LINKS);
                    Files.setAttribute(f, "unix:mode", (m & 07777) | 060, LinkOption.NOFOLLOW_LINKS);
                }
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
