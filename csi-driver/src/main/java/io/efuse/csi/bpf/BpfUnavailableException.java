package io.efuse.csi.bpf;

/** BPF cannot be used on this node; the message says why in terms an operator can act on. */
public final class BpfUnavailableException extends Exception {

    public BpfUnavailableException(String reason) {
        super(reason);
    }

    public BpfUnavailableException(String reason, Throwable cause) {
        super(reason, cause);
    }
}
