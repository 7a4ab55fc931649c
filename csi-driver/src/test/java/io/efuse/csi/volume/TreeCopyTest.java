package io.efuse.csi.volume;

import static org.junit.jupiter.api.Assertions.*;

import io.efuse.csi.sys.FileCloneSyscalls;
import io.efuse.csi.testing.BtrfsFilesystem;
import io.efuse.csi.testing.Capabilities;
import io.efuse.csi.testing.ProcessRunner;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Snapshots and clones of directory volumes keep POSIX ACLs and other attributes, reflinked or copied. */
class TreeCopyTest {
    @TempDir
    Path tmp;

    @Test
    void aCopyKeepsTheAclsOfFilesAndDirectoriesAndTheirDefaultAcls() throws Exception {
        assumeAclTools();
        check(tmp, "copied"); // ext4 here: no reflinks
    }

    @Test
    void aReflinkedCopyKeepsThemToo() throws Exception {
        assumeAclTools();
        try (BtrfsFilesystem fs = BtrfsFilesystem.create(tmp, "fs", 300L << 20)) {
            TreeCopy.Result r = check(fs.root(), "reflinked");
            assertEquals(1, r.reflinked(), "the file was reflinked: " + r);
        }
    }

    private TreeCopy.Result check(Path base, String what) throws Exception {
        Path src = Files.createDirectories(base.resolve("src-" + what));
        Path dir = Files.createDirectory(src.resolve("shared"));
        Path file = src.resolve("shared/data");
        Files.writeString(file, "data");
        run("setfacl", "-m", "u:65534:r--,g:65534:rw-", file.toString());
        run("setfacl", "-m", "u:65534:r-x", dir.toString());
        run("setfacl", "-d", "-m", "u:65534:rwx,g:65534:r-x", dir.toString());
        run("setfattr", "-n", "user.note", "-v", "kept", file.toString());
        Path dst = Files.createDirectories(base.resolve("dst-" + what));
        TreeCopy.Result r = new TreeCopy(new FileCloneSyscalls()).copy(src, dst);
        for (String p : List.of("shared", "shared/data")) {
            assertEquals(run("getfacl", "-n", "--omit-header", src.resolve(p).toString()),
                    run("getfacl", "-n", "--omit-header", dst.resolve(p).toString()), what + ": the ACL of " + p);
        }
        assertEquals("kept", run("getfattr", "--absolute-names", "--only-values", "-n", "user.note", dst.resolve("shared/data")
                .toString()));
        return r;
    }

    private static void assumeAclTools() {
        Capabilities.assumeRoot(); // setting ACLs for another uid
        for (String tool : List.of("setfacl", "getfacl", "setfattr")) {
            Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin", tool)), "skipped: " + tool
                    + " is missing (Debian: acl, attr)");
        }
    }

    private static String run(String... cmd) throws IOException, InterruptedException {
        return ProcessRunner.run(Duration.ofSeconds(60), cmd).expectSuccess();
    }
}
