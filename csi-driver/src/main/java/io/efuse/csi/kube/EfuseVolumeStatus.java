package io.efuse.csi.kube;

/** What the reconciler reports. */
public class EfuseVolumeStatus {
    public static final String PENDING = "Pending";
    public static final String READY = "Ready";
    public static final String FAILED = "Failed";

    /** Pending, Ready or Failed. */
    public String phase;
    /** The size the backing directory is held to now (grows to the spec's after an expansion). */
    public long capacityBytes;
    public long inodeLimit;
    /** Whether the kernel (project quota) or the daemon enforces the limits. */
    public String enforcement;
    public String message;
}
