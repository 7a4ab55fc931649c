package io.efuse.csi.volume;

import java.nio.file.Path;

/**
 * How a node's backing root keeps volumes. {@code engine} is what new volumes get when they ask for none (null:
 * the best the root offers). {@code imageFs} is the filesystem inside the image engine's images (ext4, xfs, or auto: ext4 where a mounted ext4 can grow, which needs CAP_SYS_RESOURCE, else XFS for volumes of 300 MiB and more). A
 * {@code btrfsPoolImage} with {@code btrfsPoolBytes} makes the root a btrfs filesystem on that image file through
 * a loop device, for nodes with no btrfs filesystem of their own.
 */
public record StorageOptions(EngineKind engine, String imageFs, Path btrfsPoolImage,
                             long btrfsPoolBytes) {
    public static final StorageOptions AUTO = new StorageOptions(null, "auto", null, 0);

    public StorageOptions {
        if (imageFs == null || imageFs.isEmpty()) {
            imageFs = "auto";
        }
        if (btrfsPoolImage != null && btrfsPoolBytes <= 0) {
            throw new IllegalArgumentException("a btrfs pool image needs a size");
        }
    }
}
