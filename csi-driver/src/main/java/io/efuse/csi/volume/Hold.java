package io.efuse.csi.volume;

import java.io.IOException;

/** A {@link WriteHold} whose end reports whether it was still on, whoever serves the volume. */
record Hold(int passthroughWriters, boolean writebackCache, Release release, String what) implements WriteHold {
    interface Release {
        /** Ends the hold; false if it had run out before. */
        boolean end() throws IOException;
    }

    @Override
    public void close() throws IOException, VolumeException {
        if (!release.end()) {
            throw new VolumeException(VolumeException.Reason.BUSY, "the writes of " + what
                    + " were held back for longer than the hold allowed, so some may have passed: try again");
        }
    }
}
