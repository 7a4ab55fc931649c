package io.efuse.csi.sys;

import java.nio.ByteBuffer;

/** A view of struct statx (256 bytes) at an offset of a native-order buffer. */
public record Statx(ByteBuffer buf, int base) {
    public static final int SIZE = 256;

    public int mask() { return buf.getInt(base); }
    public int blksize() { return buf.getInt(base + 4); }
    public int nlink() { return buf.getInt(base + 16); }
    public int uid() { return buf.getInt(base + 20); }
    public int gid() { return buf.getInt(base + 24); }
    public int mode() { return buf.getShort(base + 28) & 0xffff; }
    public long ino() { return buf.getLong(base + 32); }
    public long size() { return buf.getLong(base + 40); }
    public long blocks() { return buf.getLong(base + 48); }
    public long atimeSec() { return buf.getLong(base + 64); }
    public int atimeNsec() { return buf.getInt(base + 72); }
    public long ctimeSec() { return buf.getLong(base + 96); }
    public int ctimeNsec() { return buf.getInt(base + 104); }
    public long mtimeSec() { return buf.getLong(base + 112); }
    public int mtimeNsec() { return buf.getInt(base + 120); }
    public int rdevMajor() { return buf.getInt(base + 128); }
    public int rdevMinor() { return buf.getInt(base + 132); }
    public int devMajor() { return buf.getInt(base + 136); }
    public int devMinor() { return buf.getInt(base + 140); }

    /** dev_t as userspace encodes it (glibc makedev). */
    public static long makedev(int major, int minor) {
        return ((long) (major & 0xfffff000) << 32) | ((long) (major & 0xfff) << 8)
                | ((long) (minor & 0xffffff00) << 12) | (minor & 0xff);
    }

    public long dev() { return makedev(devMajor(), devMinor()); }
}
