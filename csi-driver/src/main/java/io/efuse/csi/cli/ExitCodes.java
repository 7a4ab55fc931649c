package io.efuse.csi.cli;

import io.efuse.csi.fs.MountException;

/** Process exit codes of the CLI, one per kind of failure a script may want to tell apart. */
final class ExitCodes {
    static final int OK = 0;
    static final int FAILED = 1;
    static final int USAGE = 2;
    static final int NOT_PERMITTED = 3;
    static final int NO_FUSE = 4;
    static final int BAD_BACKING = 5;
    static final int BAD_MOUNTPOINT = 6;
    static final int BUSY = 7;
    static final int TIER_UNAVAILABLE = 8;

    private ExitCodes() {}

    static int of(MountException.Reason reason) {
        return switch (reason) {
            case BAD_BACKING -> BAD_BACKING;
            case BAD_MOUNTPOINT -> BAD_MOUNTPOINT;
            case BUSY -> BUSY;
            case NOT_PERMITTED -> NOT_PERMITTED;
            case NO_FUSE -> NO_FUSE;
            case TIER_UNAVAILABLE -> TIER_UNAVAILABLE;
        };
    }
}
