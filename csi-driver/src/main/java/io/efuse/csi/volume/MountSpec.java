package io.efuse.csi.volume;

import java.nio.file.Path;

/**
 * One staged volume's mount: serve {@code backing} at {@code mountPoint}. {@code limits} are enforced by the
 * filesystem daemon (and shown by statfs); they are {@link Limits#NONE} when the kernel already enforces them with
 * a project quota. {@code tier} is auto, classic or passthrough.
 */
public record MountSpec(String volumeId, Path backing, Path mountPoint, String tier, boolean writebackCache,
                        boolean readOnly, Limits limits) {}
