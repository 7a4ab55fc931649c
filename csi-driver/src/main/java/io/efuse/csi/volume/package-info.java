/**
 * Volume and snapshot state ({@code VolumeStore}, {@code LocalVolumeStore}), the storage engines behind
 * {@code BackingStore} (btrfs, image, project quota, daemon), group snapshots ({@code GroupCut}), mounting a staged
 * volume ({@code EfuseMounter} in this process, {@code KeeperMounter} through the keeper), and what happens at a
 * node's staging or target path ({@code NodePaths}: probe, repair, bind, unmount).
 *
 * <p>May use fs, fsd and sys; never JNA.
 */
package io.efuse.csi.volume;
