package io.efuse.csi.bpf;

import com.sun.jna.Pointer;

/** A program of a {@link BpfObject}. */
public final class BpfProgram {

    private final Libbpf libbpf;
    private final BpfObject owner;
    private final Pointer prog;

    BpfProgram(Libbpf libbpf, BpfObject owner, Pointer prog) {
        this.libbpf = libbpf;
        this.owner = owner;
        this.prog = prog;
    }

    public String name() {
        return libbpf.lib().bpf_program__name(prog);
    }

    /** Attaches where the program's section says (tracepoint/…, kprobe/…, struct_ops…). */
    public BpfLink attach() {
        if (!owner.loaded()) {
            throw new IllegalStateException("attach " + name() + ": BPF object " + owner.name() + " is not loaded");
        }
        Pointer link = libbpf.callPointer("attach program", owner.name() + "/" + name(),
                () -> libbpf.lib().bpf_program__attach(prog));
        return new BpfLink(libbpf, owner.name() + "/" + name(), link);
    }
}
