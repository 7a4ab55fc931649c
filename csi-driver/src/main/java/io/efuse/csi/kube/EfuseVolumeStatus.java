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
    /**
     * The mutable parameters (ControllerModifyVolume) that the volume's staged session on its node could not take
     * and that its next staging applies; empty or absent when all are in effect or it is not staged.
     */
    public java.util.List<String> waitingParameters;
}
