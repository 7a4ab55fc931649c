package io.efuse.csi.fuse;

import java.io.IOException;

/** FUSE-over-io_uring was required but cannot run here; the message says why and what to change. */
public final class UringUnavailableException extends IOException {
    public UringUnavailableException(String message) {
        super(message);
    }

    public UringUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
