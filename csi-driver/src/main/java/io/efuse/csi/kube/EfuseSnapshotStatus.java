package io.efuse.csi.kube;

/** What the reconciler reports. */
public class EfuseSnapshotStatus {
    public boolean readyToUse;
    public String message;
    /** Why it failed, as the store's reason (e.g. IN_USE), so that the controller answers the right code. */
    public String reason;
    /** Milliseconds since the epoch when the copy was complete. */
    public long createdAtMillis;
}
