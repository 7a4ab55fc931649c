package io.efuse.csi.fs;

import java.io.IOException;

/** A mount that cannot be made, with the reason a caller can act on (and a CLI can map to an exit code). */
public final class MountException extends IOException {
    public enum Reason { BAD_BACKING, BAD_MOUNTPOINT, BUSY, NOT_PERMITTED, NO_FUSE, TIER_UNAVAILABLE }

    private final Reason reason;

    public MountException(Reason reason, String message) {
        super(message);
        this.reason = reason;
    }

    public MountException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
