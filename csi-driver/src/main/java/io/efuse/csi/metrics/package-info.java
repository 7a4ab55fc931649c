/**
 * The metrics registry, {@code /metrics}, per-session and per-node figures, and load-aware worker counts.
 *
 * <p>May use fs, fuse, bpf and sys; never JNA.
 */
package io.efuse.csi.metrics;
