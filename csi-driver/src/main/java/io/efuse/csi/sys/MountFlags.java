package io.efuse.csi.sys;

import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;

/** The mount(2) flag behind each mount option name that a bind mount can honour (CSI mount_flags). */
public final class MountFlags {
    private static final Map<String, Long> BY_NAME = Map.ofEntries(
            Map.entry("defaults", 0L), Map.entry("rw", 0L),
            Map.entry("ro", LinuxConstants.MS_RDONLY),
            Map.entry("nosuid", LinuxConstants.MS_NOSUID),
            Map.entry("nodev", LinuxConstants.MS_NODEV),
            Map.entry("noexec", LinuxConstants.MS_NOEXEC),
            Map.entry("sync", 16L),            // MS_SYNCHRONOUS
            Map.entry("dirsync", 128L),        // MS_DIRSYNC
            Map.entry("noatime", 1024L),       // MS_NOATIME
            Map.entry("nodiratime", 2048L),    // MS_NODIRATIME
            Map.entry("relatime", 1L << 21),   // MS_RELATIME
            Map.entry("strictatime", 1L << 24)); // MS_STRICTATIME

    private MountFlags() {}

    public static Optional<Long> of(String name) {
        return Optional.ofNullable(BY_NAME.get(name));
    }

    public static String known() {
        return new TreeSet<>(BY_NAME.keySet()).toString();
    }
}
