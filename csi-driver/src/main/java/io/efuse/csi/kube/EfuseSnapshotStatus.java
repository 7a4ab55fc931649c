package io.efuse.csi.kube;

/** What the reconciler reports. */
public class EfuseSnapshotStatus {
    public boolean readyToUse;
    public String message;
    /** Milliseconds since the epoch when the copy was complete. */
    public long createdAtMillis;
}
