package io.efuse.csi.fs;

/**
 * What a change of a mounted volume's settings did to its live session ({@link EfuseMount#change}).
 *
 * @param tier the tier files are opened with from now on (classic or passthrough, as {@link EfuseMount#tier})
 * @param tierWaits the tier asked for needs FUSE_PASSTHROUGH, which this session did not negotiate at INIT: only
 *     the next session has it
 * @param writebackCacheWaits the kernel's writeback cache, which only INIT turns on or off, differs from what the
 *     next session would negotiate with the settings asked for
 */
public record LiveChange(Tier tier, boolean tierWaits, boolean writebackCacheWaits) {}
