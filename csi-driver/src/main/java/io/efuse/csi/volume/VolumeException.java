package io.efuse.csi.volume;

import io.efuse.csi.sys.Errno;
import io.efuse.csi.sys.ErrnoException;
import java.io.IOException;
import java.nio.file.FileSystemException;

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

    /**
     * Whether an I/O failure was the backing filesystem running out of space or quota (ENOSPC, EDQUOT): from this
     * driver's system calls by errno, from java.nio's copies and channels by the errno's text, which is all they keep.
     */
    public static boolean outOfSpace(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof ErrnoException x) {
                if (x.errno() == Errno.ENOSPC || x.errno() == Errno.EDQUOT) {
                    return true;
                }
                continue;
            }
            String text = t instanceof FileSystemException x ? x.getReason() : t.getMessage();
            if (t instanceof IOException && text != null
                    && (text.contains("No space left on device") || text.contains("Disk quota exceeded"))) {
                return true;
            }
        }
        return false;
    }
}
