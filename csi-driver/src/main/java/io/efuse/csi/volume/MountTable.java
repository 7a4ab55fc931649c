package io.efuse.csi.volume;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The mounts of this process's mount namespace, from /proc/self/mountinfo. Reading it never touches the mounted
 * filesystems, so it is the way to ask "is something mounted here" about a path whose FUSE daemon is dead or hung.
 */
public final class MountTable {
    private final Path mountinfo;

    public record Entry(int id, int parentId, String device, String root, String mountPoint, String options,
                        String fsType, String source) {
        public boolean readOnly() {
            return options.equals("ro") || options.startsWith("ro,");
        }
    }

    public MountTable() {
        this(Path.of("/proc/self/mountinfo"));
    }

    public MountTable(Path mountinfo) {
        this.mountinfo = mountinfo;
    }

    public List<Entry> entries() throws IOException {
        List<Entry> out = new ArrayList<>();
        for (String line : Files.readAllLines(mountinfo)) {
            String[] f = line.split(" ");
            int sep = -1;
            for (int i = 6; i < f.length; i++) {
                if (f[i].equals("-")) {
                    sep = i;
                    break;
                }
            }
            if (f.length < 7 || sep < 0 || sep + 2 >= f.length) {
                continue;
            }
            out.add(new Entry(Integer.parseInt(f[0]), Integer.parseInt(f[1]), f[2], unescape(f[3]), unescape(f[4]),
                    f[5], f[sep + 1], unescape(f[sep + 2])));
        }
        return out;
    }

    /** The topmost mount at exactly {@code path}, if any. */
    public Optional<Entry> at(Path path) throws IOException {
        String p = path.toAbsolutePath().normalize().toString();
        Entry found = null;
        for (Entry e : entries()) {
            if (e.mountPoint().equals(p)) {
                found = e; // later lines are mounted on top of earlier ones
            }
        }
        return Optional.ofNullable(found);
    }

    public boolean isMountPoint(Path path) throws IOException {
        return at(path).isPresent();
    }

    /** mountinfo escapes space, tab, newline and backslash as octal. */
    static String unescape(String s) {
        if (s.indexOf('\\') < 0) {
            return s;
        }
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 3 < s.length()) {
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
