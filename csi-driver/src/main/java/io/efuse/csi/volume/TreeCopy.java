package io.efuse.csi.volume;

import io.efuse.csi.sys.FileCloneSyscalls;
import io.efuse.csi.sys.Errno;
import io.efuse.csi.sys.ErrnoException;
import io.efuse.csi.sys.Xattrs;
import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFileAttributes;

/**
 * Copies a directory tree for snapshots and clones. Regular files are reflinked (FICLONE) where the filesystem
 * shares extents, and copied where it does not; owners, modes, times and extended attributes (POSIX ACLs included)
 * of files and directories follow; symlinks are copied as links and
 * never followed, so a link inside a volume cannot pull data from outside it.
 */
public final class TreeCopy {
    private final FileCloneSyscalls clone;

    /** How the last copy went: files that were reflinked and files that were copied byte by byte. */
    public record Result(long reflinked, long copied, long bytes) {}

    public TreeCopy(FileCloneSyscalls clone) {
        this.clone = clone;
    }

    public Result copy(Path source, Path target) throws IOException {
        long[] counts = new long[3];
        boolean[] reflinkWorks = {true};
        Files.walkFileTree(source, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
                Path to = target.resolve(source.relativize(dir).toString());
                if (!Files.isDirectory(to, LinkOption.NOFOLLOW_LINKS)) {
                    Files.createDirectory(to);
                }
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Path to = target.resolve(source.relativize(file).toString());
                if (attrs.isSymbolicLink()) {
                    Files.createSymbolicLink(to, Files.readSymbolicLink(file));
                    copyOwner(file, to);
                } else if (attrs.isRegularFile()) {
                    counts[2] += attrs.size();
                    if (reflinkWorks[0] && reflink(file, to)) {
                        counts[0]++;
                    } else {
                        reflinkWorks[0] = false;
                        Files.copy(file, to, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.COPY_ATTRIBUTES,
                                LinkOption.NOFOLLOW_LINKS);
                        counts[1]++;
                    }
                    copyMetadata(file, to);
                    Xattrs.copy(file, to); // a reflink shares data, not attributes: ACLs come across here
                }
                // sockets, fifos and devices are not data: a snapshot leaves them out
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException exc) throws IOException {
                if (exc != null) {
                    throw exc;
                }
                Path to = target.resolve(source.relativize(dir).toString());
                copyMetadata(dir, to);
                Xattrs.copy(dir, to); // access and default ACLs, and the other attributes of the directory
                return FileVisitResult.CONTINUE;
            }
        });
        return new Result(counts[0], counts[1], counts[2]);
    }

    private boolean reflink(Path from, Path to) throws IOException {
        Files.deleteIfExists(to);
        Files.createFile(to);
        try {
            clone.cloneFile(from, to);
            return true;
        } catch (ErrnoException e) {
            Files.delete(to);
            int errno = e.errno();
            if (errno == Errno.EOPNOTSUPP || errno == Errno.EXDEV
                    || errno == Errno.EINVAL || errno == Errno.ENOTTY
                    || errno == Errno.ENOSYS) {
                return false;
            }
            throw e;
        }
    }

    private static void copyMetadata(Path from, Path to) throws IOException {
        PosixFileAttributes a = Files.readAttributes(from, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        PosixFileAttributeView v = Files.getFileAttributeView(to, PosixFileAttributeView.class,
                LinkOption.NOFOLLOW_LINKS);
        v.setOwner(a.owner());
        v.setGroup(a.group());
        v.setPermissions(a.permissions());
        v.setTimes(a.lastModifiedTime(), a.lastAccessTime(), null);
        // setuid/setgid/sticky bits are not in PosixFilePermission: carry the raw mode across
        Object mode = Files.getAttribute(from, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        Files.setAttribute(to, "unix:mode", mode, LinkOption.NOFOLLOW_LINKS);
    }

    private static void copyOwner(Path from, Path to) throws IOException {
        PosixFileAttributes a = Files.readAttributes(from, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        PosixFileAttributeView v = Files.getFileAttributeView(to, PosixFileAttributeView.class,
                LinkOption.NOFOLLOW_LINKS);
        v.setOwner(a.owner());
        v.setGroup(a.group());
    }
}
