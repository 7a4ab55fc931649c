package io.efuse.csi.volume;

/** How much of its limits a volume uses; a limit of 0 means the volume has none and the disk is the bound. */
public record Usage(long bytesUsed, long bytesTotal, long inodesUsed, long inodesTotal) {
    public long bytesAvailable() {
        return Math.max(0, bytesTotal - bytesUsed);
    }

    public long inodesAvailable() {
        return Math.max(0, inodesTotal - inodesUsed);
    }
}
