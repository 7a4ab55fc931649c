package io.efuse.csi.volume;

import java.nio.file.Path;

/**
 * What the FUSE daemon serving a volume must know of its size: {@code enforced}, the limits it holds the volume
 * to itself ({@link Limits#NONE} when the kernel does), and, where the kernel enforces a size that the backing
 * filesystem's statfs does not show, {@code shownBytes} with {@code usageFile}, a file that holds the bytes used,
 * so that {@code df} in the volume still shows its size.
 */
public record ServedLimits(Limits enforced, long shownBytes, Path usageFile) {
    public static ServedLimits byDaemon(Limits limits) {
        return new ServedLimits(limits, 0, null);
    }

    /** The kernel enforces the size and the backing filesystem's statfs already shows it. */
    public static final ServedLimits BY_KERNEL = new ServedLimits(Limits.NONE, 0, null);
}
