package io.efuse.csi.e2e.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The image as built: small, one entry point for every role, the tools the node side calls present. */
@Tag("docker")
class ImageTest {

    private static final long MAX_BYTES = 200L << 20;
    private static String image;

    @BeforeAll
    static void build() {
        image = DriverImage.require();
    }

    @Test
    void staysUnder200MiB() {
        long size = Long.parseLong(DockerCli.run(Duration.ofSeconds(30), "image", "inspect", "-f", "{{.Size}}", image)
                .orFail("docker image inspect").out().strip());
        System.out.printf("image %s: %.1f MiB%n", image, size / 1048576.0);
        assertTrue(size < MAX_BYTES, () -> image + " is " + (size >> 20) + " MiB");
    }

    @Test
    void entryPointRunsTheDriverWithJava25() {
        String version = DockerCli.runOnce(Duration.ofSeconds(60), image, "--version")
                .orFail("efuse-csi --version").out();
        assertTrue(version.startsWith("efuse-csi "), version);
        String java = DockerCli.runOnce(Duration.ofSeconds(60), "--entrypoint", "java", image, "-version")
                .orFail("java -version").err();
        assertTrue(java.contains("version \"25"), java);
    }

    @Test
    void runtimeCarriesTheNodeSideTools() {
        String script = "for t in mount umount findmnt fusermount3 chattr setquota repquota xfs_quota; do "
                + "command -v $t >/dev/null && echo $t; done; ls /usr/lib/x86_64-linux-gnu/ | grep -q '^libbpf.so.1' && echo libbpf";
        var found = new TreeSet<>(DockerCli.runOnce(Duration.ofSeconds(60), "--entrypoint", "sh", image, "-c", script)
                .orFail("tool listing").out().lines().toList());
        assertEquals(new TreeSet<>(Set.of("mount", "umount", "findmnt", "fusermount3", "chattr", "setquota", "repquota",
                "xfs_quota", "libbpf")), found);
    }

    @Test
    void javaRuntimeHasTheModulesTheLibrariesLoadByName() {
        var modules = DockerCli.runOnce(Duration.ofSeconds(60), "--entrypoint", "java", image, "--list-modules")
                .orFail("java --list-modules").out().lines().map(l -> l.replaceAll("@.*", "")).toList();
        assertTrue(modules.containsAll(Set.of("java.base", "java.net.http", "java.naming", "jdk.naming.dns",
                "jdk.crypto.ec", "jdk.unsupported", "java.management", "jdk.httpserver")), modules::toString);
        assertTrue(!modules.contains("jdk.compiler") && !modules.contains("jdk.jshell"), "the runtime carries a JDK's tools");
    }
}
