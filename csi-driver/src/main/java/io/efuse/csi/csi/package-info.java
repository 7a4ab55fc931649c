/**
 * The CSI gRPC services ({@code IdentityService}, {@code ControllerService}, {@code GroupControllerService},
 * {@code NodeService}), request validation and the spec's error codes, the node's staged volumes and sessions,
 * inline volumes, and capabilities. The services validate and decide; what happens at a staging or target path is
 * {@code volume.NodePaths}'s.
 *
 * <p>May use volume, fsd, metrics and sys (it uses volume, metrics and sys today); never JNA.
 */
package io.efuse.csi.csi;
