package io.efuse.csi.sys;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Reads /proc/self/mountinfo. Used instead of stat(2) to learn about a mount point because a stat on a
 * FUSE mount goes to its daemon, which may be this very process, or dead.
 */
public final class MountTable {
    /**
     * One mountinfo line: device numbers, mount point, filesystem type, source and options, and the root: the
     * directory of the filesystem the mount shows, so that two mounts show the same tree exactly when device and
     * root are equal (binds of one directory) even where one device holds many trees (binds of a plain disk).
     */
    public record Entry(int major, int minor, String mountPoint, String fsType, String source, String options,
                        String root) {
        /** Whether this mount and {@code other} show the same tree: one is a bind of the other, or both of one. */
        public boolean sameTree(Entry other) {
            return major == other.major && minor == other.minor && root.equals(other.root);
        }
    }

    private MountTable() {}

    public static List<Entry> read() throws IOException {
        List<Entry> out = new ArrayList<>();
        for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
            String[] f = line.split(" ");
            int dash = -1;
            for (int i = 6; i < f.length; i++) {
                if (f[i].equals("-")) {
                    dash = i;
                    break;
                }
            }
            if (dash < 0 || dash + 3 > f.length) {
                continue;
            }
            String[] dev = f[2].split(":");
            out.add(new Entry(Integer.parseInt(dev[0]), Integer.parseInt(dev[1]), unescape(f[4]), f[dash + 1],
                    unescape(f[dash + 2]), f[5], unescape(f[3])));
        }
        return out;
    }

    /** The last (topmost) mount at exactly this path. */
    public static Optional<Entry> find(Path mountPoint) throws IOException {
        String p = mountPoint.toAbsolutePath().normalize().toString();
        Entry found = null;
        for (Entry e : read()) {
            if (e.mountPoint().equals(p)) {
                found = e;
            }
        }
        return Optional.ofNullable(found);
    }

    public static boolean isMountPoint(Path path) throws IOException {
        return find(path).isPresent();
    }

    /** Whether anything in this namespace is mounted from the device major:minor (a FUSE connection's number is its minor). */
    public static boolean anyMountOf(int major, int minor) throws IOException {
        for (Entry e : read()) {
            if (e.major() == major && e.minor() == minor) {
                return true;
            }
        }
        return false;
    }

    /**
     * The mount points other than {@code mountPoint} that show the tree of the topmost mount there (its binds, and
     * what it is a bind of); empty when nothing is mounted at {@code mountPoint}.
     */
    public static Set<Path> sameTreeAs(Path mountPoint) throws IOException {
        List<Entry> all = read();
        String p = mountPoint.toAbsolutePath().normalize().toString();
        Entry at = null;
        for (Entry e : all) {
            if (e.mountPoint().equals(p)) {
                at = e;
            }
        }
        Set<Path> out = new LinkedHashSet<>();
        if (at != null) {
            for (Entry e : all) {
                if (e.sameTree(at) && !e.mountPoint().equals(p)) {
                    out.add(Path.of(e.mountPoint()));
                }
            }
        }
        return out;
    }

    /** mountinfo escapes space, tab, newline and backslash as \ooo. */
    static String unescape(String s) {
        if (s.indexOf('\\') < 0) {
            return s;
        }
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 3 < s.length() + 0 && i + 3 <= s.length() - 1 + 1) {
                try {
                    b.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
                    i += 3;
                    continue;
                } catch (NumberFormatException ignored) {
                    // not an escape: keep the backslash
                }
            }
            b.append(c);
        }
        return b.toString();
    }
}
