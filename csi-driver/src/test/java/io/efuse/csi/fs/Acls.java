package io.efuse.csi.fs;

import io.efuse.csi.testing.CProgram;
import io.efuse.csi.testing.ProcessRunner;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;

/**
 * POSIX ACLs set and read with the acl package's setfacl and getfacl, run in a scenario's directory with
 * relative names, so that a native directory and a mount print the same text when they agree.
 */
final class Acls {
    private Acls() {}

    static void assumeTools() {
        Assumptions.assumeTrue(CProgram.onPath("setfacl") && CProgram.onPath("getfacl"),
                "skipped: setfacl and getfacl are not installed (apt-get install acl)");
    }

    /** setfacl with args, as root in dir: its exit status and what it printed. */
    static String setfacl(Path dir, String... args) throws Exception {
        return run(dir, List.of(), "setfacl", args);
    }

    /** setfacl as uid/gid with supplementary groups (comma-separated gids, or none if null), through setpriv. */
    static String setfaclAs(Path dir, int uid, int gid, String groups, String... args) throws Exception {
        List<String> as = new ArrayList<>(List.of("setpriv", "--reuid", "" + uid, "--regid", "" + gid));
        as.addAll(groups == null ? List.of("--clear-groups") : List.of("--groups", groups));
        return run(dir, as, "setfacl", args);
    }

    /** getfacl -n of the paths (relative to dir): owner, group and every entry with its effective rights. */
    static String getfacl(Path dir, String... paths) throws Exception {
        List<String> args = new ArrayList<>(List.of("-n", "--"));
        args.addAll(List.of(paths));
        return "\n" + run(dir, List.of(), "getfacl", args.toArray(String[]::new));
    }

    private static String run(Path dir, List<String> prefix, String tool, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(prefix);
        cmd.add(tool);
        cmd.addAll(List.of(args));
        ProcessRunner.Result r = ProcessRunner.run(cmd, dir, Duration.ofSeconds(60));
        String out = r.output().strip();
        return "exit " + r.exit() + (out.isEmpty() ? "" : ": " + out);
    }
}
