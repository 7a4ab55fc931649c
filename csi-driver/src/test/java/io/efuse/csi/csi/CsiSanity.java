package io.efuse.csi.csi;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Assumptions;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/**
 * kubernetes-csi's csi-sanity, built from its Go module by {@code src/test/sanity/build-csi-sanity} (which pins the
 * version and caches the binary outside the repository), run against a CSI endpoint; its JUnit report is read back.
 */
final class CsiSanity {
    private static final Duration BUILD_BOUND = Duration.ofMinutes(20);
    private static final Duration RUN_BOUND = Duration.ofMinutes(20);
    /** build-csi-sanity's exit code when no Go toolchain can build the binary. */
    private static final int NO_GO = 3;

    final Path binary;
    final String version;

    private CsiSanity(Path binary, String version) {
        this.binary = binary;
        this.version = version;
    }

    /**
     * The binary named by {@code -Defuse.csiSanity=PATH}, else the cached build of the pinned version, built now
     * when missing. Skips, saying why, where no Go toolchain can build it; any other build failure fails.
     */
    static CsiSanity locate(Path logDir) throws IOException, InterruptedException {
        String given = System.getProperty("efuse.csiSanity", "");
        Path bin;
        if (!given.isBlank()) {
            bin = Path.of(given);
            assertTrue(Files.isExecutable(bin), "-Defuse.csiSanity=" + given + " is not an executable");
        } else {
            Path script = Path.of(System.getProperty("basedir", System.getProperty("user.dir")))
                    .resolve("src/test/sanity/build-csi-sanity");
            Path log = logDir.resolve("build-csi-sanity.log");
            Path printed = logDir.resolve("build-csi-sanity.out");
            Process p = new ProcessBuilder(script.toString()).redirectError(log.toFile())
                    .redirectOutput(printed.toFile()).start();
            if (!p.waitFor(BUILD_BOUND.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                fail(script + " did not finish within " + BUILD_BOUND.toMinutes() + " min:\n" + Files.readString(log));
            }
            String err = Files.readString(log);
            Assumptions.assumeFalse(p.exitValue() == NO_GO, () -> "skipped: csi-sanity is not built yet and cannot be: "
                    + err.strip());
            if (p.exitValue() != 0) {
                fail(script + " failed (exit " + p.exitValue() + "):\n" + err);
            }
            bin = Path.of(Files.readString(printed).strip().lines().reduce((a, b) -> b).orElse(""));
        }
        Process v = new ProcessBuilder(bin.toString(), "-version").redirectErrorStream(true).start();
        String version = new String(v.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip()
                .replaceFirst("^Version = ", "");
        assertTrue(v.waitFor(30, TimeUnit.SECONDS) && v.exitValue() == 0, bin + " -version: " + version);
        return new CsiSanity(bin, version);
    }

    /** One failed spec: its name and the first lines of what failed. */
    record Failure(String name, String message) {
        @Override
        public String toString() {
            String m = message.strip();
            return name + "\n      " + (m.length() > 600 ? m.substring(0, 600) + " ..." : m).replace("\n", "\n      ");
        }
    }

    /** The outcome of one run: the summary line as csi-sanity printed it, and the counts of its JUnit report. */
    record Result(String summary, int exitCode, int total, int ran, int passed, int skipped, int pending,
                  List<Failure> failures, Path log, List<String> skippedSpecs) {}

    /**
     * Runs the suite against {@code endpoint} (and the controller at {@code controllerEndpoint} if not null),
     * staging and publishing under {@code work}: csi-sanity makes {@code work/mnt} and {@code work/staging} before
     * each spec and removes them after it, so a spec that leaves a mount behind fails the next one's set-up, as it
     * would leave a pod's directory behind under kubelet. Its output and report are also copied to
     * {@code target/csi-sanity/NAME/} for reading after a run.
     */
    Result run(String name, Path work, String endpoint, String controllerEndpoint, Map<String, String> volumeParameters)
            throws Exception {
        Files.createDirectories(work);
        Path report = work.resolve("junit.xml");
        Path log = work.resolve("csi-sanity.log");
        Path mutable = Files.writeString(work.resolve("mutable-parameters.yaml"), "tier: classic\n");
        List<String> cmd = new ArrayList<>(List.of(binary.toString(),
                "--csi.endpoint", endpoint,
                "--csi.mountdir", work.resolve("mnt").toString(),
                "--csi.stagingdir", work.resolve("staging").toString(),
                // Sizes that any CI disk holds: the default of 10 GiB is beyond some.
                "--csi.testvolumesize", Long.toString(64L << 20),
                "--csi.testvolumeexpandsize", Long.toString(128L << 20),
                "--csi.testvolumemutableparameters", mutable.toString(),
                "--ginkgo.junit-report", report.toString(),
                "--ginkgo.no-color",
                "--ginkgo.timeout", RUN_BOUND.toMinutes() + "m"));
        if (controllerEndpoint != null) {
            cmd.addAll(List.of("--csi.controllerendpoint", controllerEndpoint));
        }
        if (!volumeParameters.isEmpty()) {
            StringBuilder yaml = new StringBuilder();
            volumeParameters.forEach((k, v) -> yaml.append(k).append(": ").append(v).append('\n'));
            cmd.addAll(List.of("--csi.testvolumeparameters",
                    Files.writeString(work.resolve("volume-parameters.yaml"), yaml).toString()));
        }
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        if (!p.waitFor(RUN_BOUND.toMillis() + 60_000, TimeUnit.MILLISECONDS)) {
            p.destroyForcibly();
            fail("csi-sanity did not finish within " + RUN_BOUND.toMinutes() + " min; its output: " + log);
        }
        keep(name, log, report);
        String output = Files.readString(log);
        Matcher m = Pattern.compile("(?m)^(Ran \\d+ of \\d+ Specs.*)\\R(.*)$").matcher(output);
        String summary = m.find() ? m.group(1).strip() + " -- " + m.group(2).replaceFirst("^.*?-- ", "").strip()
                : "(no summary line in " + log + ")";
        assertTrue(Files.exists(report), () -> "csi-sanity wrote no JUnit report (exit " + p.exitValue() + "):\n"
                + output);

        var doc = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(report.toFile());
        NodeList cases = doc.getElementsByTagName("testcase");
        int passed = 0;
        int skipped = 0;
        int pending = 0;
        List<Failure> failures = new ArrayList<>();
        List<String> skippedSpecs = new ArrayList<>();
        for (int i = 0; i < cases.getLength(); i++) {
            Element c = (Element) cases.item(i);
            String specName = c.getAttribute("name").replaceFirst("^\\[It\\] ", "");
            switch (c.getAttribute("status")) {
                case "passed" -> passed++;
                case "pending" -> pending++;
                case "skipped" -> {
                    skipped++;
                    NodeList why = c.getElementsByTagName("skipped");
                    skippedSpecs.add(specName + (why.getLength() > 0
                            ? " (" + ((Element) why.item(0)).getAttribute("message") + ")" : ""));
                }
                default -> {
                    NodeList why = c.getElementsByTagName("failure");
                    if (why.getLength() == 0) {
                        why = c.getElementsByTagName("error");
                    }
                    failures.add(new Failure(c.getAttribute("status") + ": " + specName, why.getLength() > 0
                            ? ((Element) why.item(0)).getAttribute("message") : ""));
                }
            }
        }
        return new Result(summary, p.exitValue(), cases.getLength(), passed + failures.size(), passed, skipped,
                pending, failures, log, skippedSpecs);
    }

    private static void keep(String name, Path... files) {
        try {
            Path dir = Path.of("target", "csi-sanity", name);
            Files.createDirectories(dir);
            for (Path f : files) {
                if (Files.exists(f)) {
                    Files.copy(f, dir.resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
                }
            }
        } catch (IOException ignored) {
            // only for reading after a run
        }
    }
}
