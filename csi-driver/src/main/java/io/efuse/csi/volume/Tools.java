package io.efuse.csi.volume;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/** The filesystem tools the engines run (mkfs, resize2fs, xfs_growfs, btrfs), found where Debian puts them. */
final class Tools {
    private static final long TIMEOUT_SECONDS = 600;
    private static final List<Path> SBIN = List.of(Path.of("/usr/sbin"), Path.of("/sbin"), Path.of("/usr/bin"),
            Path.of("/bin"));

    private Tools() {}

    /**
     * Runs {@code tool} and returns its output; an exit status above {@code maxExit} (or a missing tool, which
     * names {@code packageName} to install) is an INTERNAL error that carries the tool's own words.
     */
    static String run(String tool, String packageName, int maxExit, String... args)
            throws VolumeException, IOException {
        Path exe = find(tool).orElseThrow(() -> new VolumeException(VolumeException.Reason.INTERNAL,
                tool + " is missing; install " + packageName));
        List<String> cmd = new ArrayList<>();
        cmd.add(exe.toString());
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out;
        try {
            p.getOutputStream().close();
            out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new VolumeException(VolumeException.Reason.INTERNAL, String.join(" ", cmd)
                        + " did not finish within " + TIMEOUT_SECONDS + " s");
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException(String.join(" ", cmd) + " interrupted", e);
        }
        if (p.exitValue() < 0 || p.exitValue() > maxExit) {
            throw new VolumeException(VolumeException.Reason.INTERNAL, String.join(" ", cmd) + " exited "
                    + p.exitValue() + (out.isEmpty() ? "" : ": " + out));
        }
        return out;
    }

    static Optional<Path> find(String tool) {
        List<Path> dirs = new ArrayList<>();
        String path = System.getenv("PATH");
        if (path != null) {
            for (String d : path.split(":")) {
                if (!d.isEmpty()) {
                    dirs.add(Path.of(d));
                }
            }
        }
        dirs.addAll(SBIN);
        for (Path d : dirs) {
            Path p = d.resolve(tool);
            if (Files.isExecutable(p)) {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }
}
