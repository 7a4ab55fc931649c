package io.efuse.csi.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.efuse.csi.sys.Statx;
import io.efuse.csi.testing.CProgram;
import io.efuse.csi.testing.ProcessRunner;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * An unprivileged caller (uid and gid 65534, no supplementary groups) gets the same permission
 * denials through an eFuse mount as natively, POSIX ACLs included, and what it creates is owned by it
 * in the backing directory and inherits default ACLs as natively. Its system calls are made by a small C program (src/test/c/fsop.c) started with
 * setpriv, which prints the errno of each call.
 */
class NonRootCallerTest {
    @RegisterExtension
    static final ComparedVolumes volumes = new ComparedVolumes();

    private static final int NOBODY = 65534;
    private static Path fsop;

    @BeforeAll
    static void buildTool() throws Exception {
        Assumptions.assumeTrue(CProgram.onPath("setpriv"), "skipped: setpriv (util-linux) is not installed");
        Path built = CProgram.compile("fsop");
        // Copied next to the volumes, where the unprivileged user can surely reach it.
        fsop = volumes.nativeRoot().getParent().resolve("fsop");
        Files.copy(built, fsop, StandardCopyOption.REPLACE_EXISTING);
        Files.setPosixFilePermissions(fsop, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    /** Runs the calls as uid/gid 65534 in dir and returns what each answered, one per line. */
    static String asNobody(Path dir, String... calls) throws Exception {
        return asNobodyInGroups(dir, null, calls);
    }

    /** As {@link #asNobody}, with supplementary groups (comma-separated gids) or none if null. */
    static String asNobodyInGroups(Path dir, String groups, String... calls) throws Exception {
        return asUser(dir, NOBODY, NOBODY, groups, calls);
    }

    /** Runs the calls as uid/gid with supplementary groups (comma-separated gids) or none if null. */
    static String asUser(Path dir, int uid, int gid, String groups, String... calls) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("setpriv", "--reuid", "" + uid, "--regid", "" + gid));
        cmd.addAll(groups == null ? List.of("--clear-groups") : List.of("--groups", groups));
        cmd.add(fsop.toString());
        cmd.addAll(List.of(calls));
        ProcessRunner.Result r = ProcessRunner.run(cmd, dir, Duration.ofSeconds(60));
        assertEquals(0, r.exit(), "fsop failed in " + dir + ":\n" + r.output());
        return r.output().strip();
    }

    @OnBothTiers
    void deniedWhatTheNativeFilesystemDenies(Tier tier) throws Exception {
        volumes.compare(tier, (dir, seen) -> {
            Files.writeString(dir.resolve("secret"), "s");
            Posix.chmod(dir.resolve("secret"), 0600);
            Files.writeString(dir.resolve("rootfile"), "r");
            Posix.chmod(dir.resolve("rootfile"), 0644);
            Files.createDirectory(dir.resolve("rootdir"));
            Posix.chmod(dir.resolve("rootdir"), 0755);
            Files.writeString(dir.resolve("rootdir/f"), "f");
            Files.createDirectory(dir.resolve("private"));
            Posix.chmod(dir.resolve("private"), 0700);
            Files.writeString(dir.resolve("private/inner"), "i");
            seen.add("as nobody", "\n" + asNobody(dir,
                    "read secret", "write secret", "read rootfile", "write rootfile", "append rootfile",
                    "truncate rootfile 0", "creat rootdir/x 0644", "mkdir rootdir/y 0755", "mkfifo rootdir/p 0644",
                    "symlink target rootdir/l", "unlink rootdir/f", "rename rootdir/f rootdir/g", "rmdir rootdir",
                    "link rootfile rootdir/h", "chmod rootfile 0777", "chown rootfile 65534 65534",
                    "chown rootfile -1 65534", "utime-set rootfile 100", "utime-now rootfile",
                    "setxattr rootfile user.x v", "getxattr secret user.x", "opendir private", "read private/inner",
                    "stat private/inner", "creat secret 0644", "rename secret stolen"));
            seen.add("secret untouched", Files.readString(dir.resolve("secret")) + " " + Posix.attrs(dir.resolve("secret")));
            seen.add("rootfile untouched", Files.readString(dir.resolve("rootfile")) + " "
                    + Posix.attrs(dir.resolve("rootfile")));
        });
    }

    @OnBothTiers
    void filesOfAnUnprivilegedCallerAreItsOwn(Tier tier) throws Exception {
        ComparedVolumes.Workspace w = volumes.compare(tier, (dir, seen) -> {
            Path open = Files.createDirectory(dir.resolve("open"));
            Posix.chmod(open, 0777);
            seen.add("as nobody", "\n" + asNobody(dir,
                    "creat open/file 0640", "mkdir open/dir 0750", "mkfifo open/fifo 0600", "symlink file open/link",
                    "stat open/file", "stat open/dir", "stat open/fifo", "stat open/link",
                    "write open/file", "chmod open/file 0604", "stat open/file",
                    "chown open/file -1 65534", "chown open/file -1 0", "chown open/file 0 -1",
                    "utime-set open/file 100", "utime-now open/file", "truncate open/file 0",
                    "setxattr open/file user.mine yes", "getxattr open/file user.mine",
                    "link open/file open/hard", "rename open/hard open/moved", "unlink open/moved",
                    "rmdir open/dir"));
        });
        for (String name : new String[] {"file", "fifo", "link"}) {
            Statx st = Posix.lstat(w.backingDir().resolve("open").resolve(name));
            assertEquals(NOBODY + ":" + NOBODY, st.uid() + ":" + st.gid(), "owner of backing file open/" + name);
        }
    }

    @OnBothTiers
    void setIdBitsAreClearedWhenAnUnprivilegedOwnerWrites(Tier tier) throws Exception {
        volumes.compare(tier, (dir, seen) -> {
            Path open = Files.createDirectory(dir.resolve("open"));
            Posix.chmod(open, 0777);
            seen.add("as nobody", "\n" + asNobody(dir,
                    "creat open/suid 0644", "chmod open/suid 04755", "stat open/suid", "write open/suid",
                    "stat open/suid",
                    "creat open/sgid 0644", "chmod open/sgid 02775", "stat open/sgid", "truncate open/sgid 0",
                    "stat open/sgid",
                    "creat open/sgid-noexec 0644", "chmod open/sgid-noexec 02764", "write open/sgid-noexec",
                    "stat open/sgid-noexec",
                    "creat open/chown 0644", "chmod open/chown 06755", "chown open/chown -1 65534", "stat open/chown",
                    "creat open/foreign-group 0644", "chmod open/foreign-group 0755"));
            // A set-gid bit for a group the owner is not in is dropped by chmod (as the owner).
            Posix.chown(open.resolve("foreign-group"), NOBODY, 4321);
            seen.add("chmod g+s by a non-member", "\n" + asNobody(dir, "chmod open/foreign-group 02755",
                    "stat open/foreign-group"));
        });
    }

    @OnBothTiers
    void stickyAndSetgidDirectories(Tier tier) throws Exception {
        ComparedVolumes.Workspace w = volumes.compare(tier, (dir, seen) -> {
            Path sticky = Files.createDirectory(dir.resolve("sticky"));
            Posix.chmod(sticky, 01777);
            Files.writeString(sticky.resolve("roots"), "r");
            Posix.chmod(sticky.resolve("roots"), 0666);
            Path sgid = Files.createDirectory(dir.resolve("sgid"));
            Posix.chown(sgid, 0, 4321);
            Posix.chmod(sgid, 02777);
            seen.add("as nobody", "\n" + asNobody(dir,
                    "creat sticky/mine 0644", "unlink sticky/roots", "rename sticky/roots sticky/x",
                    "rename sticky/mine sticky/mine2", "write sticky/roots", "unlink sticky/mine2",
                    "creat sgid/file 0644", "mkdir sgid/sub 0755", "mkfifo sgid/fifo 0644",
                    "stat sgid/file", "stat sgid/sub", "stat sgid/fifo", "creat sgid/sub/deeper 0644",
                    "stat sgid/sub/deeper"));
            seen.add("root may unlink in a sticky directory", Posix.unlink(sticky.resolve("roots")));
            seen.add("root creates in a set-gid directory", Posix.mkdir(sgid.resolve("byroot"), 0755) + " "
                    + Posix.attrs(sgid.resolve("byroot")));
        });
        Statx st = Posix.lstat(w.backingDir().resolve("sgid/sub/deeper"));
        assertEquals(NOBODY + ":4321", st.uid() + ":" + st.gid(), "owner of backing file sgid/sub/deeper");
    }

    @OnBothTiers
    void writesByOthersToRootsSetIdFilesClearTheBits(Tier tier) throws Exception {
        volumes.compare(tier, (dir, seen) -> {
            for (String n : new String[] {"w", "t", "a", "u"}) {
                Files.writeString(dir.resolve(n), "data");
                Posix.chmod(dir.resolve(n), 06777);
            }
            seen.add("as nobody", "\n" + asNobody(dir, "write w", "stat w", "otrunc t", "stat t", "append a", "stat a",
                    "utime-now u", "stat u", "utime-set u 100", "truncate u 1", "stat u"));
            seen.add("sizes", Files.size(dir.resolve("w")) + " " + Files.size(dir.resolve("t")) + " "
                    + Files.size(dir.resolve("a")) + " " + Files.size(dir.resolve("u")));
        });
    }

    @OnBothTiers
    void supplementaryGroupsGrantAccess(Tier tier) throws Exception {
        ComparedVolumes.Workspace w = volumes.compare(tier, (dir, seen) -> {
            Path shared = Files.createDirectory(dir.resolve("shared"));
            Posix.chown(shared, 0, 4321);
            Posix.chmod(shared, 0770);
            Files.writeString(shared.resolve("groupfile"), "g");
            Posix.chown(shared.resolve("groupfile"), 0, 4321);
            Posix.chmod(shared.resolve("groupfile"), 0660);
            seen.add("without the group", "\n" + asNobody(dir, "creat shared/a 0644", "read shared/groupfile"));
            seen.add("in the group", "\n" + asNobodyInGroups(dir, "4321", "creat shared/mine 0644", "stat shared/mine",
                    "read shared/groupfile", "write shared/groupfile", "chown shared/mine -1 4321", "stat shared/mine",
                    "chown shared/mine -1 4322", "chmod shared/mine 02755", "stat shared/mine",
                    "mkdir shared/sub 0770", "unlink shared/groupfile"));
        });
        Statx st = Posix.lstat(w.backingDir().resolve("shared/mine"));
        assertEquals(NOBODY + ":4321", st.uid() + ":" + st.gid(), "owner of backing file shared/mine");
    }

    @OnBothTiers
    void aclsDecideWhatAnUnprivilegedCallerMay(Tier tier) throws Exception {
        Acls.assumeTools();
        volumes.compare(tier, (dir, seen) -> {
            String[][] files = {{"open", "0666", "u:65534:---"}, {"grouponly", "0600", "g:4321:rw-"},
                {"masked", "0600", "u:65534:rw-,m::r--"}, {"chmodded", "0600", "u:65534:rw-"},
                {"others", "0600", "o::rw-"}};
            for (String[] f : files) {
                Files.writeString(dir.resolve(f[0]), f[0]);
                Posix.chmod(dir.resolve(f[0]), Integer.parseInt(f[1], 8));
                seen.add("setfacl " + f[2] + " " + f[0], Acls.setfacl(dir, "-m", f[2], f[0]) + " "
                        + Posix.attrs(dir.resolve(f[0])));
            }
            String[][] dirs = {{"listonly", "0777", "u:65534:r-x"}, {"traverse", "0700", "u:65534:--x"},
                {"groupdir", "0700", "g:4321:rwx"}, {"nogroup", "0777", "g::---"}};
            for (String[] d : dirs) {
                Files.createDirectory(dir.resolve(d[0]));
                Posix.chmod(dir.resolve(d[0]), Integer.parseInt(d[1], 8));
                Files.writeString(dir.resolve(d[0]).resolve("inner"), "i");
                Posix.chmod(dir.resolve(d[0]).resolve("inner"), 0644);
                seen.add("setfacl " + d[2] + " " + d[0], Acls.setfacl(dir, "-m", d[2], d[0]) + " "
                        + Posix.attrs(dir.resolve(d[0])));
            }
            // The named user is denied though the mode lets everybody write; a named group is allowed though the
            // mode denies; the mask limits named entries; a directory's entries decide listing and traversal.
            seen.add("as nobody", "\n" + asNobody(dir, "write open", "read open", "append open", "truncate open 0",
                    "stat open", "read grouponly", "write grouponly", "read masked", "write masked", "write chmodded",
                    "read others", "write others", "creat listonly/x 0644", "opendir listonly", "read listonly/inner",
                    "opendir traverse", "read traverse/inner", "creat traverse/x 0644", "opendir groupdir",
                    "creat groupdir/x 0644", "creat nogroup/x 0644"));
            seen.add("as nobody in group 4321", "\n" + asNobodyInGroups(dir, "4321", "read grouponly",
                    "write grouponly", "write open", "opendir groupdir", "creat groupdir/mine 0644",
                    "stat groupdir/mine"));
            // chmod sets the mask from the group bits: the named user's write comes and goes with it.
            for (int mode : new int[] {0640, 0600, 0660}) {
                seen.add("chmod " + Integer.toOctalString(mode) + " chmodded", Posix.chmod(dir.resolve("chmodded"), mode)
                        + Acls.getfacl(dir, "chmodded") + "\n" + asNobody(dir, "read chmodded", "write chmodded"));
            }
            seen.add("mask raised again", Acls.setfacl(dir, "-m", "m::rw-", "masked") + " "
                    + asNobody(dir, "write masked"));
            seen.add("ACL removed: the mode decides", Acls.setfacl(dir, "-b", "open") + " "
                    + asNobody(dir, "write open"));
            seen.add("named entry removed", Acls.setfacl(dir, "-x", "g:4321", "grouponly") + " "
                    + asNobodyInGroups(dir, "4321", "read grouponly"));
        });
    }

    @OnBothTiers
    void aclsOfAnUnprivilegedOwner(Tier tier) throws Exception {
        Acls.assumeTools();
        volumes.compare(tier, (dir, seen) -> {
            Path open = Files.createDirectory(dir.resolve("open"));
            Posix.chmod(open, 0777);
            Files.writeString(dir.resolve("roots"), "r");
            Posix.chmod(dir.resolve("roots"), 0666);
            seen.add("created", asNobody(dir, "creat open/own 0666", "creat open/sgid 0644", "creat open/member 0644",
                    "mkdir open/sgiddir 0755"));
            seen.add("the owner sets an ACL", Acls.setfaclAs(dir, NOBODY, NOBODY, null, "-m", "u::---,u:0:r--",
                    "open/own") + Acls.getfacl(dir, "open/own"));
            // The owner class is decided by the owner's entry alone, whatever the named entries allow.
            seen.add("the owner's own entry denies", asNobody(dir, "read open/own", "write open/own",
                    "chmod open/own 0600", "read open/own"));
            // Where the backing filesystem keeps no ACLs (the VM's tmpfs) the kernel refuses a non-owner with EPERM
            // before the filesystem can say EOPNOTSUPP: docs/testing.md, EfuseMountTest.
            if (!Posix.getxattr(dir.resolve("roots"), "system.posix_acl_access", 0).equals("EOPNOTSUPP")) {
                seen.add("someone else's file", Acls.setfaclAs(dir, NOBODY, NOBODY, null, "-m", "u:65534:rwx", "roots")
                        + Acls.getfacl(dir, "roots"));
            }
            // Setting an ACL drops set-group-ID when the owner is not in the file's group, as chmod does.
            for (String f : new String[] {"sgid", "member", "sgiddir"}) {
                Posix.chown(open.resolve(f), NOBODY, 4321);
                Posix.chmod(open.resolve(f), 02775);
            }
            seen.add("set-gid, not in the group", Acls.setfaclAs(dir, NOBODY, NOBODY, null, "-m", "u:0:rwx", "open/sgid")
                    + " " + Posix.attrs(open.resolve("sgid")));
            seen.add("set-gid, in the group", Acls.setfaclAs(dir, NOBODY, NOBODY, "4321", "-m", "u:0:rwx",
                    "open/member") + " " + Posix.attrs(open.resolve("member")));
            // A default ACL leaves the directory's own mode alone.
            seen.add("set-gid directory, default ACL", Acls.setfaclAs(dir, NOBODY, NOBODY, null, "-d", "-m", "u:0:rwx",
                    "open/sgiddir") + " " + Posix.attrs(open.resolve("sgiddir")));
        });
    }

    @OnBothTiers
    void defaultAclsShapeWhatAnUnprivilegedCallerCreates(Tier tier) throws Exception {
        Acls.assumeTools();
        ComparedVolumes.Workspace w = volumes.compare(tier, (dir, seen) -> {
            for (String umask : new String[] {"022", "077"}) {
                String d = "shared" + umask;
                Path shared = Files.createDirectory(dir.resolve(d));
                Posix.chmod(shared, 0777);
                seen.add("default ACL of " + d, Acls.setfacl(dir, "-d", "-m", "g:4321:rwx,o::---", d)
                        + Acls.getfacl(dir, d));
                String p = "plain" + umask;
                Posix.chmod(Files.createDirectory(dir.resolve(p)), 0777);
                // The umask is not applied under a default ACL: a member of 4321 may write what nobody made with
                // umask 077. In the plain directory it is.
                seen.add("nobody creates with umask " + umask, "\n" + asNobody(dir, "umask " + umask,
                        "creat " + d + "/f 0666", "mkdir " + d + "/sub 0777", "mkfifo " + d + "/p 0666",
                        "tmpfile " + d + " 0666 " + d + "/t", "creat " + d + "/sub/g 0666", "mkdir " + d + "/sub/s 0755",
                        "creat " + p + "/f 0666", "mkdir " + p + "/sub 0777", "tmpfile " + p + " 0666 " + p + "/t",
                        "stat " + d + "/f", "stat " + d + "/sub", "stat " + d + "/p", "stat " + d + "/t",
                        "stat " + d + "/sub/g", "stat " + d + "/sub/s", "stat " + p + "/f", "stat " + p + "/sub",
                        "stat " + p + "/t"));
                seen.add("their ACLs", Acls.getfacl(dir, d + "/f", d + "/sub", d + "/p", d + "/t", d + "/sub/g",
                        d + "/sub/s", p + "/f"));
                seen.add("uid 65533 in group 4321", "\n" + asUser(dir, 65533, 65533, "4321", "write " + d + "/f",
                        "write " + d + "/t", "write " + d + "/sub/g", "creat " + d + "/sub/x 0644",
                        "creat " + d + "/sub/s/y 0644", "write " + p + "/f", "creat " + p + "/sub/x 0644"));
                seen.add("uid 65533 in no group", "\n" + asUser(dir, 65533, 65533, null, "read " + d + "/f",
                        "opendir " + d + "/sub"));
            }
        });
        for (String name : new String[] {"shared077/f", "shared077/sub", "shared077/t", "shared077/sub/g"}) {
            Statx st = Posix.lstat(w.backingDir().resolve(name));
            assertEquals(NOBODY + ":" + NOBODY, st.uid() + ":" + st.gid(), "owner of backing file " + name);
        }
    }
}
