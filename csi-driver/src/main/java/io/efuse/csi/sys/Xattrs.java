package io.efuse.csi.sys;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Extended attributes of a path, never following a final symlink: names, values, and their copy to another path. */
public final class Xattrs {
    private static final int MAX = 65536; // XATTR_SIZE_MAX and XATTR_LIST_MAX

    private Xattrs() {}

    /** The attribute names of {@code path} (of a symlink itself); empty where the filesystem keeps none. */
    public static List<String> names(Path path) throws ErrnoException {
        ByteBuffer p = NativeMemory.cString(path.toString());
        ByteBuffer list = NativeMemory.allocateUntouched(MAX);
        try {
            long n = LibC.llistxattr(NativeMemory.address(p), NativeMemory.address(list), MAX);
            if (n < 0) {
                int errno = LibC.errno();
                if (errno == Errno.EOPNOTSUPP) {
                    return List.of();
                }
                throw new ErrnoException("llistxattr", path.toString(), errno);
            }
            List<String> names = new ArrayList<>();
            int start = 0;
            for (int i = 0; i < n; i++) {
                if (list.get(i) == 0) {
                    byte[] b = new byte[i - start];
                    list.get(start, b);
                    names.add(new String(b, StandardCharsets.UTF_8));
                    start = i + 1;
                }
            }
            return names;
        } finally {
            NativeMemory.free(list);
        }
    }

    /**
     * Copies every attribute of {@code from} that {@code to} lacks or has otherwise (POSIX ACLs, user, trusted and
     * security attributes), so that a copy made without them (a reflink, a new directory) keeps them.
     */
    public static void copy(Path from, Path to) throws ErrnoException {
        List<String> names = names(from);
        if (names.isEmpty()) {
            return;
        }
        ByteBuffer f = NativeMemory.cString(from.toString());
        ByteBuffer t = NativeMemory.cString(to.toString());
        ByteBuffer value = NativeMemory.allocateUntouched(MAX);
        try {
            for (String name : names) {
                ByteBuffer n = NativeMemory.cString(name);
                long len = LibC.lgetxattr(NativeMemory.address(f), NativeMemory.address(n),
                        NativeMemory.address(value), MAX);
                if (len < 0) {
                    int errno = LibC.errno();
                    if (errno == Errno.ENODATA) {
                        continue; // removed meanwhile
                    }
                    throw new ErrnoException("lgetxattr " + name, from.toString(), errno);
                }
                if (LibC.lsetxattr(NativeMemory.address(t), NativeMemory.address(n), NativeMemory.address(value),
                        len, 0) < 0) {
                    throw new ErrnoException("lsetxattr " + name, to.toString(), LibC.errno());
                }
            }
        } finally {
            NativeMemory.free(value);
        }
    }
}
