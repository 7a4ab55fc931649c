package io.efuse.csi.bpf;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Where this node keeps what BPF needs: libbpf, the kernel's BTF, tracefs and the bpffs directory for pins. The
 * loader of libbpf is the seam tests use to make BPF fail the way an unprivileged or old node would.
 */
public record BpfHost(LibbpfLoader libbpf, Path btf, Path tracefs, Path bpffs, Path pinRoot, Path mountinfo) {

    /** Supplies libbpf, or says why it cannot. */
    @FunctionalInterface
    public interface LibbpfLoader {
        Libbpf load() throws BpfUnavailableException;
    }

    public static final Path DEFAULT_PIN_ROOT = Path.of("/sys/fs/bpf/efuse");

    public static BpfHost system() {
        return new BpfHost(Libbpf::system, Path.of("/sys/kernel/btf/vmlinux"), Path.of("/sys/kernel/tracing"),
                Path.of("/sys/fs/bpf"), DEFAULT_PIN_ROOT, Path.of("/proc/self/mountinfo"));
    }

    public BpfHost withLibbpf(LibbpfLoader loader) {
        return new BpfHost(loader, btf, tracefs, bpffs, pinRoot, mountinfo);
    }

    public BpfHost withPinRoot(Path root) {
        return new BpfHost(libbpf, btf, tracefs, bpffs, root, mountinfo);
    }

    /** Fails with the reason when the kernel has no BTF (CO-RE needs it). */
    void requireBtf() throws BpfUnavailableException {
        if (!Files.isReadable(btf)) {
            throw new BpfUnavailableException("the kernel has no BTF: " + btf
                    + " is missing (the kernel needs CONFIG_DEBUG_INFO_BTF=y)");
        }
    }

    /** Makes sure tracefs is mounted and the tracepoint exists; libbpf looks tracepoint ids up there. */
    void requireTracepoint(String category, String name) throws BpfUnavailableException {
        if (!Files.isDirectory(tracefs.resolve("events"))) {
            mountIfMissing("tracefs", tracefs);
        }
        if (!Files.isDirectory(tracefs.resolve("events").resolve(category).resolve(name))) {
            throw new BpfUnavailableException("the kernel has no " + category + ":" + name + " tracepoint ("
                    + tracefs.resolve("events").resolve(category).resolve(name) + " is missing; Linux 6.13 added it)");
        }
    }

    /** Makes sure bpffs is mounted where pins go. */
    void requireBpffs() throws BpfUnavailableException {
        if (!isMounted(bpffs, "bpf")) {
            mountIfMissing("bpf", bpffs);
        }
        try {
            Files.createDirectories(pinRoot);
        } catch (IOException e) {
            throw new BpfUnavailableException("cannot create the pin directory " + pinRoot + ": " + e, e);
        }
    }

    private void mountIfMissing(String fsType, Path where) throws BpfUnavailableException {
        if (isMounted(where, fsType)) {
            return;
        }
        int rc = BpfLibc.INSTANCE.mount(fsType, where.toString(), fsType, 0, fsType.equals("bpf") ? "mode=0700" : null);
        if (rc != 0) {
            int errno = com.sun.jna.Native.getLastError();
            throw new BpfUnavailableException(fsType + " is not mounted at " + where + " and mounting it failed (errno "
                    + errno + "); mount it on the host or give the container " + where);
        }
    }

    boolean isMounted(Path where, String fsType) {
        try {
            List<String> lines = Files.readAllLines(mountinfo);
            for (String line : lines) {
                // mountinfo: id parent major:minor root mountpoint options [optional...] - fstype source superopts
                String[] f = line.split(" ");
                int dash = line.indexOf(" - ");
                if (f.length > 4 && dash > 0 && f[4].equals(where.toString())
                        && line.substring(dash + 3).startsWith(fsType + " ")) {
                    return true;
                }
            }
            return false;
        } catch (IOException e) {
            return false;
        }
    }
}
