package io.efuse.csi.fs;

import static io.efuse.csi.sys.LinuxConstants.*;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Names through an eFuse mount (both tiers) behave as on the native filesystem: mkdir, rmdir, unlink,
 * rename (with RENAME_NOREPLACE and RENAME_EXCHANGE), link, symlink, readlink and mkfifo, with the
 * error cases of the common POSIX test suites.
 */
class NamespaceComparisonTest {
    @RegisterExtension
    static final ComparedVolumes volumes = new ComparedVolumes();

    private static void write(Path p, String s) throws Exception {
        Files.writeString(p, s, StandardCharsets.US_ASCII);
    }

    private static String listing(Path dir) {
        String[] names = dir.toFile().list();
        if (names == null) {
            return "not a directory";
        }
        Arrays.sort(names);
        return String.join(",", names);
    }

    @OnBothTiers
    void mkdirAndRmdirLikeNative(Tier tier) throws Exception {
        volumes.compare(tier, (dir, seen) -> {
            Path d = dir.resolve("d");
            seen.add("mkdir", Posix.mkdir(d, 0750) + " " + Posix.attrs(d));
            seen.add("parent nlink", Posix.attrs(dir));
            seen.add("mkdir existing", Posix.mkdir(d, 0755));
            seen.add("mkdir missing parent", Posix.mkdir(dir.resolve("nope/x"), 0755));
            write(dir.resolve("f"), "x");
            seen.add("mkdir under a file", Posix.mkdir(dir.resolve("f/x"), 0755));
            seen.add("mkdir over a file", Posix.mkdir(dir.resolve("f"), 0755));
            seen.add("mkdir 255-byte name", Posix.mkdir(dir.resolve("d".repeat(255)), 0755));
            seen.add("mkdir 256-byte name", Posix.mkdir(dir.resolve("d".repeat(256)), 0755));
            seen.add("mkdir with sticky and setgid bits", Posix.mkdir(dir.resolve("s"), 03777) + " "
                    + Posix.attrs(dir.resolve("s")));
            Path sub = Files.createDirectory(d.resolve("sub"));
            seen.add("rmdir not empty", Posix.rmdir(d));
            seen.add("rmdir a file", Posix.rmdir(dir.resolve("f")));
            seen.add("rmdir missing", Posix.rmdir(dir.resolve("nope")));
            seen.add("rmdir dot", Posix.rmdir(sub.resolve(".")));
            seen.add("rmdir dotdot", Posix.rmdir(sub.resolve("..")));
            seen.add("rmdir empty", Posix.rmdir(sub) + " " + Posix.exists(sub));
            seen.add("nlink after rmdir", Posix.attrs(d));
            seen.add("rmdir 256-byte name", Posix.rmdir(dir.resolve("r".repeat(256))));
            seen.add("listing", listing(dir).replace("d".repeat(255), "<255 d>"));
        });
    }

    @OnBothTiers
    void unlinkLikeNative(Tier tier) throws Exception {
        volumes.compare(tier, (dir, seen) -> {
            Path f = dir.resolve("f");
            write(f, "x");
            Path d = Files.createDirectory(dir.resolve("d"));
            seen.add("unlink a directory", Posix.unlink(d));
            seen.add("unlink missing", Posix.unlink(dir.resolve("nope")));
            seen.add("unlink through a file", Posix.unlink(f.resolve("x")));
            seen.add("unlink 256-byte name", Posix.unlink(dir.resolve("u".repeat(256))));
            Posix.link(f, dir.resolve("g"));
            seen.add("unlink one of two links", Posix.unlink(f) + " " + Posix.attrs(dir.resolve("g")));
            Posix.symlink("g", dir.resolve("l"));
            seen.add("unlink a symlink", Posix.unlink(dir.resolve("l")) + " " + Posix.attrs(dir.resolve("g")));
            Posix.mkfifo(dir.resolve("p"), 0644);
            seen.add("unlink a fifo", Posix.unlink(dir.resolve("p")));
            seen.add("listing", listing(dir));
        });
    }

    @OnBothTiers
    void renameLikeNative(Tier tier) throws Exception {
        volumes.compare(tier, (dir, seen) -> {
            Path a = dir.resolve("a");
            Path b = dir.resolve("b");
            write(a, "A");
            write(b, "B");
            Path d1 = Files.createDirectory(dir.resolve("d1"));
            Path d2 = Files.createDirectory(dir.resolve("d2"));
            seen.add("rename to a new name", Posix.rename(a, dir.resolve("a2"), 0) + " " + listing(dir));
            seen.add("old name", Posix.exists(a));
            seen.add("over an existing file", Posix.rename(dir.resolve("a2"), b, 0) + " " + Files.readString(b));
            seen.add("across directories", Posix.rename(b, d1.resolve("b"), 0) + " " + listing(d1) + " "
                    + Files.readString(d1.resolve("b")));
            write(d2.resolve("c"), "C");
            seen.add("NOREPLACE onto existing", Posix.rename(d1.resolve("b"), d2.resolve("c"), RENAME_NOREPLACE));
            seen.add("NOREPLACE onto new", Posix.rename(d1.resolve("b"), d2.resolve("b"), RENAME_NOREPLACE)
                    + " " + listing(d1) + "|" + listing(d2));
            seen.add("EXCHANGE", Posix.rename(d2.resolve("b"), d2.resolve("c"), RENAME_EXCHANGE) + " b="
                    + Files.readString(d2.resolve("b")) + " c=" + Files.readString(d2.resolve("c")));
            seen.add("EXCHANGE with missing", Posix.rename(d2.resolve("b"), d2.resolve("nope"), RENAME_EXCHANGE));
            seen.add("EXCHANGE file and directory", Posix.rename(d2.resolve("b"), d1, RENAME_EXCHANGE) + " "
                    + Posix.attrs(d1).split(" ")[0] + " " + Posix.attrs(d2.resolve("b")).split(" ")[0]);
            seen.add("exchange back", Posix.rename(d2.resolve("b"), d1, RENAME_EXCHANGE));
            seen.add("NOREPLACE|EXCHANGE", Posix.rename(d2.resolve("b"), d2.resolve("c"),
                    RENAME_NOREPLACE | RENAME_EXCHANGE));
            seen.add("missing source", Posix.rename(dir.resolve("nope"), dir.resolve("x"), 0));
            seen.add("into missing directory", Posix.rename(d2.resolve("c"), dir.resolve("nope/c"), 0));
            seen.add("file over directory", Posix.rename(d2.resolve("c"), d1, 0));
            seen.add("directory over file", Posix.rename(d1, d2.resolve("c"), 0));
            Path e = Files.createDirectory(dir.resolve("e"));
            seen.add("directory over empty directory", Posix.rename(d1, e, 0) + " " + listing(dir));
            Files.createDirectory(dir.resolve("d3"));
            write(dir.resolve("d3/x"), "x");
            seen.add("directory over non-empty directory", Posix.rename(e, dir.resolve("d3"), 0));
            seen.add("directory into itself", Posix.rename(e, e.resolve("sub"), 0));
            seen.add("directory with nlink", Posix.rename(d2, e.resolve("d2"), 0) + " " + Posix.attrs(dir) + " "
                    + Posix.attrs(e));
            seen.add("to a 256-byte name", Posix.rename(dir.resolve("d3/x"), dir.resolve("y".repeat(256)), 0));
            seen.add("onto itself", Posix.rename(dir.resolve("d3/x"), dir.resolve("d3/x"), 0));
            Posix.link(dir.resolve("d3/x"), dir.resolve("d3/hard"));
            seen.add("onto a hard link of itself", Posix.rename(dir.resolve("d3/x"), dir.resolve("d3/hard"), 0)
                    + " " + listing(dir.resolve("d3")));
            Posix.symlink("target", dir.resolve("sl"));
            seen.add("a symlink", Posix.rename(dir.resolve("sl"), e.resolve("sl"), 0) + " "
                    + Posix.readlink(e.resolve("sl")));
            seen.add("final tree", listing(dir) + "|" + listing(e) + "|" + listing(e.resolve("d2")));
        });
    }

    @OnBothTiers
    void hardLinksLikeNative(Tier tier) throws Exception {
        volumes.compare(tier, (dir, seen) -> {
            Path f = dir.resolve("f");
            write(f, "data");
            seen.add("link", Posix.link(f, dir.resolve("g")) + " " + Posix.attrs(f));
            seen.add("same content", Files.readString(dir.resolve("g")));
            write(dir.resolve("g"), "changed");
            seen.add("write through one, read the other", Files.readString(f));
            Path d = Files.createDirectory(dir.resolve("d"));
            seen.add("link into a subdirectory", Posix.link(f, d.resolve("h")) + " " + Posix.attrs(d.resolve("h")));
            seen.add("link onto existing", Posix.link(f, dir.resolve("g")));
            seen.add("link missing source", Posix.link(dir.resolve("nope"), dir.resolve("x")));
            seen.add("link a directory", Posix.link(d, dir.resolve("dlink")));
            seen.add("link into missing directory", Posix.link(f, dir.resolve("nope/x")));
            seen.add("link to a 256-byte name", Posix.link(f, dir.resolve("l".repeat(256))));
            seen.add("unlink one", Posix.unlink(f) + " " + Posix.attrs(dir.resolve("g")));
            Posix.symlink("g", dir.resolve("sym"));
            seen.add("link a symlink (not followed)", Posix.link(dir.resolve("sym"), dir.resolve("sym2")) + " "
                    + Posix.attrs(dir.resolve("sym2")).split(" ")[0] + " " + Posix.readlink(dir.resolve("sym2")));
            Posix.mkfifo(dir.resolve("p"), 0600);
            seen.add("link a fifo", Posix.link(dir.resolve("p"), dir.resolve("p2")) + " " + Posix.attrs(dir.resolve("p")));
        });
    }

    @OnBothTiers
    void symlinksLikeNative(Tier tier) throws Exception {
        volumes.compare(tier, (dir, seen) -> {
            write(dir.resolve("f"), "target data");
            seen.add("symlink", Posix.symlink("f", dir.resolve("l")) + " " + Posix.attrs(dir.resolve("l")));
            seen.add("readlink", Posix.readlink(dir.resolve("l")));
            seen.add("read through", Files.readString(dir.resolve("l")));
            seen.add("symlink over existing", Posix.symlink("x", dir.resolve("f")));
            seen.add("symlink in missing dir", Posix.symlink("x", dir.resolve("nope/l")));
            seen.add("readlink of a file", Posix.readlink(dir.resolve("f")));
            seen.add("readlink missing", Posix.readlink(dir.resolve("nope")));
            String longTarget = "t/".repeat(1000) + "end";
            seen.add("long target", Posix.symlink(longTarget, dir.resolve("long")) + " "
                    + Posix.readlink(dir.resolve("long")).equals(longTarget) + " " + Posix.attrs(dir.resolve("long")));
            seen.add("target of 4096 bytes", Posix.symlink("x".repeat(4096), dir.resolve("toolong")));
            seen.add("empty target", Posix.symlink("", dir.resolve("empty")));
            seen.add("symlink 256-byte name", Posix.symlink("f", dir.resolve("s".repeat(256))));
            Posix.symlink("loop2", dir.resolve("loop1"));
            Posix.symlink("loop1", dir.resolve("loop2"));
            seen.add("open a symlink loop", Posix.tryOpen(dir.resolve("loop1"), O_RDONLY, 0));
            Posix.symlink("nowhere", dir.resolve("dangling"));
            seen.add("dangling", Posix.attrs(dir.resolve("dangling")) + " " + Posix.tryOpen(dir.resolve("dangling"),
                    O_RDONLY, 0));
            Files.createDirectory(dir.resolve("d"));
            write(dir.resolve("d/inner"), "inner");
            Posix.symlink("d", dir.resolve("dl"));
            seen.add("through a directory symlink", Files.readString(dir.resolve("dl/inner")));
            seen.add("directory symlink as path component", listing(dir.resolve("dl")));
            seen.add("rmdir a directory symlink", Posix.rmdir(dir.resolve("dl")));
            Posix.symlink("d/inner", dir.resolve("rel"));
            seen.add("lchown symlink", Posix.lchown(dir.resolve("rel"), 12, 34) + " "
                    + Posix.attrs(dir.resolve("rel")) + " target " + Posix.attrs(dir.resolve("d/inner")));
        });
    }

    @OnBothTiers
    void fifosAndDeviceNodesLikeNative(Tier tier) throws Exception {
        volumes.compare(tier, (dir, seen) -> {
            Path p = dir.resolve("p");
            seen.add("mkfifo", Posix.mkfifo(p, 0640) + " " + Posix.attrs(p));
            seen.add("mkfifo existing", Posix.mkfifo(p, 0640));
            seen.add("mkfifo missing dir", Posix.mkfifo(dir.resolve("nope/p"), 0640));
            seen.add("mkfifo 256-byte name", Posix.mkfifo(dir.resolve("p".repeat(256)), 0640));
            seen.add("non-blocking open for reading", Posix.tryOpen(p, O_RDONLY | O_NONBLOCK, 0));
            seen.add("non-blocking open for writing without reader", Posix.tryOpen(p, O_WRONLY | O_NONBLOCK, 0));
            seen.add("regular file by mknod", Posix.mknod(dir.resolve("r"), S_IFREG | 0600) + " "
                    + Posix.attrs(dir.resolve("r")));
            seen.add("socket node by mknod", Posix.mknod(dir.resolve("s"), S_IFSOCK | 0600) + " "
                    + Posix.attrs(dir.resolve("s")));
        });
    }

    @OnBothTiers
    void rootIgnoresPermissionBitsAndMayLeaveWhiteouts(Tier tier) throws Exception {
        volumes.compare(tier, (dir, seen) -> {
            Path f = dir.resolve("f");
            write(f, "locked");
            Posix.chmod(f, 0);
            seen.add("root reads a 0000 file", Posix.tryOpen(f, O_RDONLY, 0) + " " + Files.readString(f));
            seen.add("root writes a 0000 file", Posix.tryOpen(f, O_WRONLY | O_APPEND, 0));
            Path ro = Files.createDirectory(dir.resolve("ro"));
            Posix.chmod(ro, 0555);
            seen.add("root creates in a 0555 directory", Posix.tryOpen(ro.resolve("x"), O_CREAT | O_WRONLY, 0644));
            Path none = Files.createDirectory(dir.resolve("none"));
            Posix.chmod(none, 0);
            seen.add("root lists a 0000 directory", Posix.mkdir(none.resolve("sub"), 0755) + " " + listing(none));
            write(dir.resolve("w"), "w");
            seen.add("RENAME_WHITEOUT", Posix.rename(dir.resolve("w"), dir.resolve("w2"), RENAME_WHITEOUT) + " "
                    + Posix.attrs(dir.resolve("w")));
        });
    }
}
