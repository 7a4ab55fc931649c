/**
 * The fd keeper ({@code FdKeeper}, in the node plugin), the daemon host ({@code FsDaemon}), the protocol between them
 * ({@code KeeperMessage}), and {@code MountProbe}, which looks at a mount point that may sit on a dead connection.
 *
 * <p>May use fs and sys; never JNA.
 */
package io.efuse.csi.fsd;
