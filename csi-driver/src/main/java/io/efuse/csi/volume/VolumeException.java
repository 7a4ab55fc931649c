package io.efuse.csi.volume;

/** A volume operation that failed for a reason the caller can act on; the CSI layer maps the reason to a code. */
public final class VolumeException extends Exception {
    public enum Reason {
        INVALID, NOT_FOUND, ALREADY_EXISTS, OUT_OF_RANGE, RESOURCE_EXHAUSTED, IN_USE, BUSY, NOT_READY, INTERNAL
    }

    private final Reason reason;

    public VolumeException(Reason reason, String message) {
        super(message);
        this.reason = reason;
    }

    public VolumeException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
