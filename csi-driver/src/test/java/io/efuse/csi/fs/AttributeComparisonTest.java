package io.efuse.csi.fs;

import static io.efuse.csi.sys.LinuxConstants.*;

import io.efuse.csi.sys.Statx;
import io.efuse.csi.testing.CProgram;
import io.efuse.csi.testing.ProcessRunner;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Attributes through an eFuse mount (both tiers) behave as on the native filesystem: chmod, chown,
 * utimensat, extended attributes (user.*), POSIX ACLs (access and default, the mask and chmod, inheritance
 * under a umask), ctime updates, set-id bits. What ACLs allow an unprivileged caller is in NonRootCallerTest.
 */
class AttributeComparisonTest {
    @RegisterExtension
    static final ComparedVolumes volumes = new ComparedVolumes();

    private static final int XATTR_CREATE = 1;
    private static final String ACCESS_ACL = "system.posix_acl_access";
    private static final String DEFAULT_ACL = "system.posix_acl_default";
    private static final int XATTR_REPLACE = 2;

    private static String times(Path p) throws Exception {
        Statx st = Posix.lstat(p);
        return "atime=" + st.atimeSec() + "." + st.atimeNsec() + " mtime=" + st.mtimeSec() + "." + st.mtimeNsec();
    }

    private static Instant ctime(Path p) throws Exception {
        Statx st = Posix.lstat(p);
        return Instant.ofEpochSecond(st.ctimeSec(), st.ctimeNsec());
    }

    /**
     * Waits (bounded) until the clock has moved well past t, so that a change made now gets a later
     * timestamp even from the filesystem's coarse clock.
     */
    private static void clockPast(Instant t) throws InterruptedException {
        Instant deadline = Instant.now().plusSeconds(2);
        Instant want = t.plus(Duration.ofMillis(20));
        while (Instant.now().isBefore(want)) {
            if (Instant.now().isAfter(deadline)) {
                throw new IllegalStateException("the clock did not advance past " + t);
            }
            Thread.sleep(2);
        }
    }

    /** Runs change and says whether it moved p's ctime forward. */
    private static String ctimeAdvances(Path p, String result, Instant before) throws Exception {
        return result + ", ctime advanced: " + ctime(p).isAfter(before);
    }

    @OnBothTiers
    void chmodLikeNative(Tier tier) throws Exception {
        volumes.compare(tier, (dir, seen) -> {
            Path f = dir.resolve("f");
            Files.writeString(f, "x");
            for (int mode : new int[] {0, 0644, 0777, 04755, 02755, 01777, 06777, 07000}) {
                seen.add("chmod " + Integer.toOctalString(mode), Posix.chmod(f, mode) + " " + Posix.attrs(f));
            }
            Path d = Files.createDirectory(dir.resolve("d"));
            seen.add("chmod directory", Posix.chmod(d, 01770) + " " + Posix.attrs(d));
            seen.add("chmod missing", Posix.chmod(dir.resolve("nope"), 0644));
            seen.add("chmod through a file", Posix.chmod(f.resolve("x"), 0644));
            seen.add("chmod 256-byte name", Posix.chmod(dir.resolve("c".repeat(256)), 0644));
            Posix.symlink("f", dir.resolve("l"));
            seen.add("chmod through a symlink", Posix.chmod(dir.resolve("l"), 0600) + " " + Posix.attrs(f) + " "
                    + Posix.attrs(dir.resolve("l")));
            seen.add("fifo", Posix.mkfifo(dir.resolve("p"), 0600) + " " + Posix.chmod(dir.resolve("p"), 0666) + " "
                    + Posix.attrs(dir.resolve("p")));
            Instant before = ctime(f);
            clockPast(before);
            seen.add("chmod updates ctime", ctimeAdvances(f, Posix.chmod(f, 0640), before));
        });
    }

    @OnBothTiers
    void chownLikeNative(Tier tier) throws Exception {
        volumes.compare(tier, (dir, seen) -> {
            Path f = dir.resolve("f");
            Files.writeString(f, "x");
            seen.add("chown", Posix.chown(f, 1234, 5678) + " " + Posix.attrs(f));
            seen.add("chown uid only", Posix.chown(f, 42, -1) + " " + Posix.attrs(f));
            seen.add("chown gid only", Posix.chown(f, -1, 43) + " " + Posix.attrs(f));
            seen.add("chown to nobody", Posix.chown(f, 65534, 65534) + " " + Posix.attrs(f));
            seen.add("chown missing", Posix.chown(dir.resolve("nope"), 1, 1));
            seen.add("chown 256-byte name", Posix.chown(dir.resolve("o".repeat(256)), 1, 1));
            Posix.chmod(f, 04755);
            seen.add("suid cleared by chown", Posix.chown(f, 100, 100) + " " + Posix.attrs(f));
            Posix.chmod(f, 02755);
            seen.add("sgid with group exec cleared by chown", Posix.chown(f, 101, 101) + " " + Posix.attrs(f));
            Posix.chmod(f, 02745);
            seen.add("sgid without group exec kept by chown", Posix.chown(f, 102, 102) + " " + Posix.attrs(f));
            Posix.chmod(f, 06755);
            seen.add("set-id bits on chown to the same owner", Posix.chown(f, -1, -1) + " " + Posix.attrs(f));
            Posix.chmod(f, 06755);
            seen.add("set-id bits on utimensat omitting both times", Posix.utimens(f, 0, UTIME_OMIT, 0, UTIME_OMIT, 0)
                    + " " + Posix.attrs(f));
            seen.add("set-id bits on utimensat", Posix.utimens(f, 1, 0, 1, 0, 0) + " " + Posix.attrs(f));
            Instant before0 = ctime(f);
            clockPast(before0);
            seen.add("chown to the same owner updates ctime", ctimeAdvances(f, Posix.chown(f, -1, -1), before0));
            Path d = Files.createDirectory(dir.resolve("d"));
            Posix.chmod(d, 06755);
            seen.add("set-id bits of a directory survive chown", Posix.chown(d, 7, 7) + " " + Posix.attrs(d));
            Instant before = ctime(f);
            clockPast(before);
            seen.add("chown updates ctime", ctimeAdvances(f, Posix.chown(f, 9, 9), before));
        });
    }

    @OnBothTiers
    void utimensatLikeNative(Tier tier) throws Exception {
        volumes.compare(tier, (dir, seen) -> {
            Path f = dir.resolve("f");
            Files.writeString(f, "x");
            seen.add("explicit", Posix.utimens(f, 1000000000L, 123456789, 1100000000L, 987654321, 0) + " " + times(f));
            seen.add("omit atime", Posix.utimens(f, 5, UTIME_OMIT, 1200000000L, 1, 0) + " " + times(f));
            seen.add("omit mtime", Posix.utimens(f, 1300000000L, 2, 5, UTIME_OMIT, 0) + " " + times(f));
            seen.add("omit both", Posix.utimens(f, 0, UTIME_OMIT, 0, UTIME_OMIT, 0) + " " + times(f));
            seen.add("before 1970", Posix.utimens(f, -100, 0, -200, 5, 0) + " " + times(f));
            seen.add("far future", Posix.utimens(f, 4102444800L, 0, 4102444800L, 0, 0) + " " + times(f));
            seen.add("invalid nsec", Posix.utimens(f, 1, 1_000_000_000, 1, 0, 0));
            Instant before = Instant.now();
            Posix.utimens(f, 0, UTIME_NOW, 0, UTIME_NOW, 0);
            Statx st = Posix.lstat(f);
            seen.add("now", st.mtimeSec() >= before.getEpochSecond() - 1 && st.atimeSec() >= before.getEpochSecond() - 1);
            Path d = Files.createDirectory(dir.resolve("d"));
            seen.add("directory", Posix.utimens(d, 1400000000L, 0, 1400000001L, 0, 0) + " " + times(d));
            Posix.symlink("f", dir.resolve("l"));
            String target = times(f);
            seen.add("symlink itself", Posix.utimens(dir.resolve("l"), 1500000000L, 7, 1500000001L, 8,
                    AT_SYMLINK_NOFOLLOW) + " " + times(dir.resolve("l")) + ", target unchanged: "
                    + times(f).equals(target));
            seen.add("through a symlink", Posix.utimens(dir.resolve("l"), 1600000000L, 0, 1600000001L, 0, 0) + " "
                    + times(f));
            seen.add("missing", Posix.utimens(dir.resolve("nope"), 1, 0, 1, 0, 0));
            Files.writeString(f, "written");
            seen.add("write moves mtime", Posix.lstat(f).mtimeSec() >= before.getEpochSecond() - 1);
            Instant c = ctime(f);
            clockPast(c);
            seen.add("utimensat updates ctime", ctimeAdvances(f, Posix.utimens(f, 1, 0, 2, 0, 0), c));
        });
    }

    @OnBothTiers
    void ctimeUpdatesOnLinkRenameAndUnlink(Tier tier) throws Exception {
        volumes.compare(tier, (dir, seen) -> {
            Path f = dir.resolve("f");
            Files.writeString(f, "x");
            Path d = Files.createDirectory(dir.resolve("d"));
            Instant c = ctime(f);
            clockPast(c);
            seen.add("link updates the file's ctime", ctimeAdvances(f, Posix.link(f, dir.resolve("g")), c));
            c = ctime(f);
            clockPast(c);
            seen.add("rename updates the file's ctime", ctimeAdvances(dir.resolve("g"),
                    Posix.rename(f, d.resolve("f"), 0), c));
            Path moved = d.resolve("f");
            c = ctime(moved);
            clockPast(c);
            seen.add("unlink of one link updates the other's ctime", ctimeAdvances(moved,
                    Posix.unlink(dir.resolve("g")), c));
            c = ctime(d);
            clockPast(c);
            seen.add("create updates the directory's ctime", ctimeAdvances(d,
                    Posix.tryOpen(d.resolve("n"), O_CREAT | O_WRONLY, 0644), c));
            c = ctime(f.getParent());
            clockPast(c);
            seen.add("mkdir updates the parent's ctime", ctimeAdvances(dir, Posix.mkdir(dir.resolve("e"), 0755), c));
            Instant m = Instant.ofEpochSecond(Posix.lstat(d).mtimeSec(), Posix.lstat(d).mtimeNsec());
            clockPast(m);
            Posix.unlink(d.resolve("n"));
            Statx st = Posix.lstat(d);
            seen.add("unlink updates the directory's mtime", Instant.ofEpochSecond(st.mtimeSec(), st.mtimeNsec())
                    .isAfter(m));
        });
    }

    @OnBothTiers
    void extendedAttributesLikeNative(Tier tier) throws Exception {
        volumes.compare(tier, (dir, seen) -> {
            Path f = dir.resolve("f");
            Files.writeString(f, "x");
            seen.add("list empty", Posix.listxattr(f));
            seen.add("get missing", Posix.getxattr(f, "user.nope", 100));
            seen.add("set", Posix.setxattr(f, "user.a", "alpha", 0));
            seen.add("get", Posix.getxattr(f, "user.a", 100));
            seen.add("get size only", Posix.getxattr(f, "user.a", 0));
            seen.add("get into a small buffer", Posix.getxattr(f, "user.a", 2));
            seen.add("XATTR_CREATE existing", Posix.setxattr(f, "user.a", "again", XATTR_CREATE));
            seen.add("XATTR_REPLACE missing", Posix.setxattr(f, "user.b", "beta", XATTR_REPLACE));
            seen.add("XATTR_REPLACE existing", Posix.setxattr(f, "user.a", "ALPHA", XATTR_REPLACE) + " "
                    + Posix.getxattr(f, "user.a", 100));
            seen.add("XATTR_CREATE new", Posix.setxattr(f, "user.b", "beta", XATTR_CREATE));
            seen.add("empty value", Posix.setxattr(f, "user.empty", "", 0) + " " + Posix.getxattr(f, "user.empty", 0));
            String big = "v".repeat(4000);
            seen.add("4000-byte value", Posix.setxattr(f, "user.big", big, 0) + " "
                    + Posix.getxattr(f, "user.big", 8192).equals(big));
            seen.add("list", Posix.listxattr(f));
            seen.add("remove", Posix.removexattr(f, "user.a") + " " + Posix.getxattr(f, "user.a", 100));
            seen.add("remove missing", Posix.removexattr(f, "user.a"));
            seen.add("list after remove", Posix.listxattr(f));
            seen.add("unknown namespace", Posix.setxattr(f, "bogus.x", "1", 0));
            seen.add("name too long", Posix.setxattr(f, "user." + "n".repeat(300), "1", 0));
            seen.add("trusted namespace as root", Posix.setxattr(f, "trusted.t", "1", 0) + " "
                    + Posix.getxattr(f, "trusted.t", 10));
            Path d = Files.createDirectory(dir.resolve("d"));
            seen.add("on a directory", Posix.setxattr(d, "user.dir", "yes", 0) + " " + Posix.getxattr(d, "user.dir", 10)
                    + " " + Posix.listxattr(d));
            seen.add("missing file", Posix.getxattr(dir.resolve("nope"), "user.a", 10));
            Path p = dir.resolve("p");
            Posix.mkfifo(p, 0644);
            seen.add("user xattr on a fifo", Posix.setxattr(p, "user.x", "1", 0));
            Instant c = ctime(f);
            clockPast(c);
            seen.add("setxattr updates ctime", ctimeAdvances(f, Posix.setxattr(f, "user.c", "1", 0), c));
        });
    }

    @OnBothTiers
    void statfsShowsTheBackingFilesystem(Tier tier) throws Exception {
        ComparedVolumes.Workspace w = volumes.workspace(tier);
        java.nio.file.FileStore onNative = Files.getFileStore(w.nativeDir());
        java.nio.file.FileStore onEfuse = Files.getFileStore(w.mountDir());
        org.junit.jupiter.api.Assertions.assertEquals(onNative.getTotalSpace(), onEfuse.getTotalSpace());
        org.junit.jupiter.api.Assertions.assertEquals(onNative.getBlockSize(), onEfuse.getBlockSize());
        org.junit.jupiter.api.Assertions.assertEquals("fuse.efuse", onEfuse.type());
    }

    /** Creates a node of the given type as the POSIX test suites do: every type gets the same treatment. */
    private static String create(Path p, String type) throws Exception {
        return switch (type) {
            case "regular" -> Posix.tryOpen(p, O_CREAT | O_EXCL | O_WRONLY, 0644);
            case "dir" -> Posix.mkdir(p, 0755);
            case "fifo" -> Posix.mkfifo(p, 0644);
            case "block" -> Posix.mknod(p, S_IFBLK | 0644, 7, 300);
            case "char" -> Posix.mknod(p, S_IFCHR | 0644, 1, 3);
            case "socket" -> Posix.mknod(p, S_IFSOCK | 0644);
            case "symlink" -> Posix.symlink("nowhere", p);
            default -> throw new IllegalArgumentException(type);
        };
    }

    @OnBothTiers
    void everyFileTypeTakesOwnershipModeAndTimes(Tier tier) throws Exception {
        volumes.compare(tier, (dir, seen) -> {
            for (String type : new String[] {"regular", "dir", "fifo", "block", "char", "socket", "symlink"}) {
                Path p = dir.resolve(type);
                seen.add(type, create(p, type) + " " + Posix.attrs(p));
                if (type.equals("block") || type.equals("char")) {
                    seen.add(type + " rdev", Posix.rdev(p));
                }
                seen.add(type + " lchown", Posix.lchown(p, 123, 456) + " " + Posix.attrs(p));
                if (!type.equals("symlink")) {
                    seen.add(type + " chmod 06555", Posix.chmod(p, 06555) + " " + Posix.attrs(p));
                    seen.add(type + " chown clears set-id", Posix.chown(p, 65532, 65531) + " " + Posix.attrs(p));
                    Posix.symlink(type, dir.resolve(type + "-link"));
                    seen.add(type + " chown through a symlink", Posix.chown(dir.resolve(type + "-link"), 7, 8) + " "
                            + Posix.attrs(p) + " link " + Posix.attrs(dir.resolve(type + "-link")).split(" ")[2]);
                }
                seen.add(type + " utimensat", Posix.utimens(p, 1000, 1, 2000, 2, AT_SYMLINK_NOFOLLOW) + " " + times(p));
                Instant c = ctime(p);
                clockPast(c);
                seen.add(type + " lchown updates ctime", ctimeAdvances(p, Posix.lchown(p, 9, 9), c));
                seen.add(type + " rename", Posix.rename(p, dir.resolve(type + "-renamed"), 0) + " "
                        + Posix.attrs(dir.resolve(type + "-renamed")));
                seen.add(type + " remove", type.equals("dir") ? Posix.rmdir(dir.resolve(type + "-renamed"))
                        : Posix.unlink(dir.resolve(type + "-renamed")));
            }
        });
    }

    @FunctionalInterface
    private interface Step {
        String run() throws Exception;
    }

    /** Runs step and says which of p's times it moved forward (after waiting for the clock to pass them). */
    private static String moves(Path p, Step step) throws Exception {
        Statx before = Posix.lstat(p);
        Instant m0 = Instant.ofEpochSecond(before.mtimeSec(), before.mtimeNsec());
        Instant c0 = Instant.ofEpochSecond(before.ctimeSec(), before.ctimeNsec());
        clockPast(m0.isAfter(c0) ? m0 : c0);
        String result = step.run();
        Statx after = Posix.lstat(p);
        boolean m = Instant.ofEpochSecond(after.mtimeSec(), after.mtimeNsec()).isAfter(m0);
        boolean c = Instant.ofEpochSecond(after.ctimeSec(), after.ctimeNsec()).isAfter(c0);
        return result + ", mtime " + (m ? "moved" : "kept") + ", ctime " + (c ? "moved" : "kept");
    }

    @OnBothTiers
    void timesMovedBySuccessfulOperationsOnly(Tier tier) throws Exception {
        volumes.compare(tier, (dir, seen) -> {
            Path d = Files.createDirectory(dir.resolve("d"));
            Path e = Files.createDirectory(dir.resolve("e"));
            Path f = d.resolve("f");
            seen.add("create: parent", moves(d, () -> Posix.tryOpen(f, O_CREAT | O_WRONLY, 0644)));
            seen.add("failed create: parent", moves(d, () -> Posix.tryOpen(f, O_CREAT | O_EXCL | O_WRONLY, 0644)));
            seen.add("write: file", moves(f, () -> {
                Files.writeString(f, "abc");
                return "ok";
            }));
            seen.add("truncate: file", moves(f, () -> Posix.truncate(f, 1)));
            seen.add("truncate to the same size: file", moves(f, () -> Posix.truncate(f, 1)));
            seen.add("ftruncate to the same size: file", moves(f, () -> {
                try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(f,
                        java.nio.file.StandardOpenOption.WRITE)) {
                    ch.truncate(1);
                }
                return "ok";
            }));
            seen.add("O_TRUNC: file", moves(f, () -> Posix.tryOpen(f, O_WRONLY | O_TRUNC, 0)));
            seen.add("read: file", moves(f, () -> Files.readString(f)));
            seen.add("chmod with bits beyond 07777: file", moves(f, () -> Posix.chmod(f, 010000644)));
            seen.add("link: file", moves(f, () -> Posix.link(f, e.resolve("g"))));
            seen.add("link: target directory", moves(e, () -> Posix.link(f, e.resolve("h"))));
            seen.add("failed link: target directory", moves(e, () -> Posix.link(f, e.resolve("h"))));
            seen.add("unlink: file", moves(f, () -> Posix.unlink(e.resolve("h"))));
            seen.add("unlink: directory", moves(e, () -> Posix.unlink(e.resolve("g"))));
            seen.add("failed unlink: directory", moves(e, () -> Posix.unlink(e.resolve("g"))));
            seen.add("rename: source directory", moves(d, () -> Posix.rename(f, e.resolve("f"), 0)));
            Path moved = e.resolve("f");
            seen.add("rename: target directory", moves(e, () -> Posix.rename(moved, e.resolve("f2"), 0)));
            seen.add("failed rename: directory", moves(e, () -> Posix.rename(e.resolve("nope"), e.resolve("x"), 0)));
            seen.add("mkdir: parent", moves(d, () -> Posix.mkdir(d.resolve("sub"), 0755) + " " + Posix.attrs(d)));
            seen.add("rmdir: parent", moves(d, () -> Posix.rmdir(d.resolve("sub")) + " " + Posix.attrs(d)));
            seen.add("symlink: parent", moves(d, () -> Posix.symlink("x", d.resolve("l"))));
            seen.add("mkfifo: parent", moves(d, () -> Posix.mkfifo(d.resolve("p"), 0644)));
            seen.add("setxattr: file", moves(e.resolve("f2"), () -> Posix.setxattr(e.resolve("f2"), "user.t", "1", 0)));
            seen.add("failed setxattr: file", moves(e.resolve("f2"),
                    () -> Posix.setxattr(e.resolve("f2"), "user.t", "1", 1)));
        });
    }

    @OnBothTiers
    void extendedAttributesOfSymlinksThemselves(Tier tier) throws Exception {
        volumes.compare(tier, (dir, seen) -> {
            Files.writeString(dir.resolve("target"), "t");
            Path l = dir.resolve("l");
            Posix.symlink("target", l);
            seen.add("list", Posix.llistxattr(l));
            seen.add("set user", Posix.lsetxattr(l, "user.x", "1"));
            seen.add("get user", Posix.lgetxattr(l, "user.x"));
            seen.add("set trusted", Posix.lsetxattr(l, "trusted.x", "link"));
            seen.add("get trusted", Posix.lgetxattr(l, "trusted.x"));
            seen.add("list after set", Posix.llistxattr(l));
            seen.add("the target has none", Posix.llistxattr(dir.resolve("target")));
            seen.add("remove trusted", Posix.lremovexattr(l, "trusted.x") + " " + Posix.llistxattr(l));
            Posix.mkfifo(dir.resolve("p"), 0644);
            seen.add("trusted on a fifo", Posix.lsetxattr(dir.resolve("p"), "trusted.y", "fifo") + " "
                    + Posix.lgetxattr(dir.resolve("p"), "trusted.y"));
        });
    }

    @OnBothTiers
    void accessAclsLikeNative(Tier tier) throws Exception {
        Acls.assumeTools();
        volumes.compare(tier, (dir, seen) -> {
            Path f = dir.resolve("f");
            Files.writeString(f, "x");
            Posix.chmod(f, 0640);
            seen.add("none yet", Posix.listxattr(f, "system.") + " " + Posix.getxattr(f, ACCESS_ACL, 0)
                    + Acls.getfacl(dir, "f"));
            // A named entry makes the group bits the mask: the union of the named and group entries.
            seen.add("named user and group", Acls.setfacl(dir, "-m", "u:65534:rw-,g:4321:r--", "f") + " "
                    + Posix.attrs(f) + Acls.getfacl(dir, "f"));
            seen.add("listed and sized", Posix.listxattr(f, "system.") + " " + Posix.getxattr(f, ACCESS_ACL, 0));
            seen.add("mask narrowed", Acls.setfacl(dir, "-m", "m::r--", "f") + " " + Posix.attrs(f)
                    + Acls.getfacl(dir, "f"));
            // chmod sets the mask, not the owning group's entry, from the group bits.
            seen.add("chmod 0600", Posix.chmod(f, 0600) + " " + Posix.attrs(f) + Acls.getfacl(dir, "f"));
            seen.add("chmod 0674", Posix.chmod(f, 0674) + " " + Posix.attrs(f) + Acls.getfacl(dir, "f"));
            seen.add("setfacl recalculates the mask", Acls.setfacl(dir, "-m", "g:4321:---", "f") + " " + Posix.attrs(f)
                    + Acls.getfacl(dir, "f"));
            seen.add("entry removed", Acls.setfacl(dir, "-x", "u:65534", "f") + " " + Posix.attrs(f)
                    + Acls.getfacl(dir, "f"));
            seen.add("the mode's own entries are not kept as an ACL", Acls.setfacl(dir, "--set", "u::rw-,g::r--,o::---",
                    "f") + " " + Posix.attrs(f) + " " + Posix.listxattr(f, "system."));
            seen.add("removed with -b", Acls.setfacl(dir, "-m", "u:65534:r--", "f") + " "
                    + Acls.setfacl(dir, "-b", "f") + " " + Posix.attrs(f) + " " + Posix.listxattr(f, "system."));
            seen.add("removexattr", Acls.setfacl(dir, "-m", "u:65534:rwx", "f") + " " + Posix.removexattr(f, ACCESS_ACL)
                    + " " + Posix.attrs(f) + " " + Posix.removexattr(f, ACCESS_ACL) + Acls.getfacl(dir, "f"));
            seen.add("malformed value", Posix.setxattr(f, ACCESS_ACL, "garbage", 0));
            seen.add("incomplete ACL", Acls.setfacl(dir, "--set", "u::rw-", "f"));
            seen.add("default ACL of a file", Acls.setfacl(dir, "-d", "-m", "u:65534:r--", "f") + " "
                    + Posix.getxattr(f, DEFAULT_ACL, 0));
            Instant c = ctime(f);
            clockPast(c);
            seen.add("setfacl updates ctime", ctimeAdvances(f, Acls.setfacl(dir, "-m", "u:65534:r--", "f"), c));
            Path d = Files.createDirectory(dir.resolve("d"));
            Posix.chmod(d, 0750);
            seen.add("directory", Acls.setfacl(dir, "-m", "u:65534:r-x", "d") + " " + Posix.attrs(d)
                    + Acls.getfacl(dir, "d"));
            Posix.mkfifo(dir.resolve("p"), 0600);
            seen.add("fifo", Acls.setfacl(dir, "-m", "g:4321:rw-", "p") + " " + Posix.attrs(dir.resolve("p"))
                    + Acls.getfacl(dir, "p"));
            Files.writeString(dir.resolve("target"), "t");
            Posix.symlink("target", dir.resolve("l"));
            seen.add("through a symlink: its target's", Acls.setfacl(dir, "-m", "u:65534:r--", "l")
                    + Acls.getfacl(dir, "target") + " " + Posix.llistxattr(dir.resolve("l")));
            // Root keeps set-group-ID when it sets an ACL: it is capable.
            Files.writeString(dir.resolve("sgid"), "s");
            Posix.chown(dir.resolve("sgid"), 65534, 4321);
            Posix.chmod(dir.resolve("sgid"), 02770);
            seen.add("set-gid file, by root", Acls.setfacl(dir, "-m", "u:0:r-x", "sgid") + " "
                    + Posix.attrs(dir.resolve("sgid")));
        });
    }

    @OnBothTiers
    void defaultAclsAreInheritedLikeNative(Tier tier) throws Exception {
        Acls.assumeTools();
        Path fsop = CProgram.compile("fsop");
        volumes.compare(tier, (dir, seen) -> {
            for (String umask : new String[] {"022", "077"}) {
                String d = "inherit" + umask;
                Files.createDirectory(dir.resolve(d));
                Posix.chmod(dir.resolve(d), 0755);
                Files.createDirectory(dir.resolve("plain" + umask));
                Posix.chmod(dir.resolve("plain" + umask), 0755);
                seen.add("default ACL of " + d, Acls.setfacl(dir, "-d", "-m", "u:65534:rwx,g:4321:r-x,o::---", d)
                        + " " + Posix.attrs(dir.resolve(d)) + Acls.getfacl(dir, d));
                // Where the parent has a default ACL the umask is not applied: the ACL masks the mode.
                String[] created = {d + "/f", d + "/f0600", d + "/sub", d + "/p", d + "/t", d + "/sub/deeper",
                    d + "/sub/g", "plain" + umask + "/f", "plain" + umask + "/sub", "plain" + umask + "/p",
                    "plain" + umask + "/t"};
                seen.add("created with umask " + umask, "\n" + run(dir, fsop, "umask " + umask,
                        "creat " + d + "/f 0666", "creat " + d + "/f0600 0600", "mkdir " + d + "/sub 0777",
                        "mkfifo " + d + "/p 0666", "tmpfile " + d + " 0666 " + d + "/t",
                        "mkdir " + d + "/sub/deeper 0750", "creat " + d + "/sub/g 0666",
                        "creat plain" + umask + "/f 0666", "mkdir plain" + umask + "/sub 0777",
                        "mkfifo plain" + umask + "/p 0666", "tmpfile plain" + umask + " 0666 plain" + umask + "/t"));
                for (String c : created) {
                    seen.add(c, Posix.attrs(dir.resolve(c)) + " " + Posix.listxattr(dir.resolve(c), "system."));
                }
                seen.add("their ACLs", Acls.getfacl(dir, created));
            }
            // A node made by this process, with its own umask.
            seen.add("device node", Posix.mknod(dir.resolve("inherit022/null"), S_IFCHR | 0666, 1, 3) + " "
                    + Posix.attrs(dir.resolve("inherit022/null")) + Acls.getfacl(dir, "inherit022/null"));
            seen.add("symlink", Posix.symlink("f", dir.resolve("inherit022/l")) + " "
                    + Posix.llistxattr(dir.resolve("inherit022/l")));
            // Once the default ACL is gone the umask applies again.
            seen.add("default ACL removed", Acls.setfacl(dir, "-k", "inherit077") + " "
                    + Posix.getxattr(dir.resolve("inherit077"), DEFAULT_ACL, 0) + " "
                    + run(dir, fsop, "umask 077", "creat inherit077/after 0666", "stat inherit077/after"));
            seen.add("default ACL removed with removexattr", Posix.removexattr(dir.resolve("inherit022/sub"), DEFAULT_ACL)
                    + " " + run(dir, fsop, "umask 022", "creat inherit022/sub/after 0666", "stat inherit022/sub/after")
                    + Acls.getfacl(dir, "inherit022/sub/after"));
        });
    }

    /** Runs the fsop calls (src/test/c/fsop.c) as root in dir. */
    private static String run(Path dir, Path fsop, String... calls) throws Exception {
        java.util.List<String> cmd = new java.util.ArrayList<>(java.util.List.of(fsop.toString()));
        cmd.addAll(java.util.List.of(calls));
        ProcessRunner.Result r = ProcessRunner.run(cmd, dir, Duration.ofSeconds(60));
        org.junit.jupiter.api.Assertions.assertEquals(0, r.exit(), "fsop failed in " + dir + ":\n" + r.output());
        return r.output().strip();
    }
}
