/**
 * libbpf, the eBPF monitor and the efuse tier's maps. With sys, the only package that calls native code (JNA).
 *
 * <p>Uses no other package of the driver.
 */
package io.efuse.csi.bpf;
