/**
 * The custom resources ({@code EfuseVolume}, {@code EfuseSnapshot}), {@code KubeVolumeStore} (the controller's
 * store) and {@code NodeReconciler} (the node's side), and the names they put on resources ({@code MetadataKeys}).
 *
 * <p>May use volume only; never JNA.
 */
package io.efuse.csi.kube;
