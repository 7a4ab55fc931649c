/**
 * The commands and their options, process start and shutdown, wiring a role (controller, node, fsd, standalone,
 * mount) together, and logging.
 *
 * <p>May use every other package of the driver: bpf, csi, fs, fsd, fuse, kube, metrics, sys and volume.
 */
package io.efuse.csi.cli;
