package io.efuse.csi.bpf;

import java.util.List;

/**
 * A libbpf or bpf(2) call failed. Carries the operation, its subject (object, program, map or path), the errno and
 * what libbpf printed while it ran (verifier logs included).
 */
public final class BpfException extends RuntimeException {

    private final int errno;
    private final List<String> libbpfMessages;

    public BpfException(String operation, String subject, int errno, String errnoText, List<String> libbpfMessages) {
        super(operation + " " + subject + ": " + errnoText + " (errno " + errno + ")"
                + (libbpfMessages.isEmpty() ? "" : "; libbpf: " + String.join(" | ", libbpfMessages)));
        this.errno = errno;
        this.libbpfMessages = List.copyOf(libbpfMessages);
    }

    public int errno() {
        return errno;
    }

    public List<String> libbpfMessages() {
        return libbpfMessages;
    }
}
