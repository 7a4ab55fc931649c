package io.efuse.csi.volume;

import java.nio.file.Path;

/**
 * One staged volume's mount: serve {@code backing} at {@code mountPoint}. {@code limits} say what the filesystem
 * daemon enforces itself and what its statfs shows ({@link ServedLimits}). {@code tier} is auto, classic or
 * passthrough.
 */
public record MountSpec(String volumeId, Path backing, Path mountPoint, String tier, boolean writebackCache,
                        boolean readOnly, ServedLimits limits) {}
