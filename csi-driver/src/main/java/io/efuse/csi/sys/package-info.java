/**
 * System calls, ioctls, the mount table, loop devices, btrfs and quotas. With bpf, the only package that calls native
 * code (JNA); everything above it is plain Java.
 *
 * <p>Uses no other package of the driver.
 */
package io.efuse.csi.sys;
