/**
 * The stackable filesystem ({@code EfuseFilesystem}), a mounted volume ({@code EfuseMount}), crash-recovery state
 * ({@code VolumeState}, {@code StateJournal}) and the in-kernel cache ({@code KernelCachingFilesystem}).
 *
 * <p>May use fuse, bpf and sys; never JNA.
 */
package io.efuse.csi.fs;
