package io.efuse.csi.bpf;

import com.sun.jna.Pointer;
import java.nio.file.Path;

/**
 * An attachment of a program. Closing it detaches the program unless the link is pinned in bpffs, in which case the
 * pin keeps it attached after this process ends.
 */
public final class BpfLink implements AutoCloseable {

    private final Libbpf libbpf;
    private final String what;
    private Pointer link;
    private boolean keepAttached;

    BpfLink(Libbpf libbpf, String what, Pointer link) {
        this.libbpf = libbpf;
        this.what = what;
        this.link = link;
    }

    /** Opens a link pinned at path (it keeps its program attached). */
    public static BpfLink openPinned(Libbpf libbpf, Path path) {
        Pointer link = libbpf.callPointer("open pinned link", path.toString(),
                () -> libbpf.lib().bpf_link__open(path.toString()));
        BpfLink opened = new BpfLink(libbpf, path.toString(), link);
        opened.keepAttached = true;
        return opened;
    }

    /** Pins the link: it stays attached after {@link #close()} and after this process ends. */
    public void pin(Path path) {
        libbpf.call("pin link " + what + " at", path.toString(), () -> libbpf.lib().bpf_link__pin(live(), path.toString()));
        keepAttached = true;
    }

    /** Removes the pin; the program stays attached until the link is closed. */
    public void unpin() {
        libbpf.call("unpin link", what, () -> libbpf.lib().bpf_link__unpin(live()));
        keepAttached = false;
    }

    private Pointer live() {
        if (link == null) {
            throw new IllegalStateException("link " + what + " is closed");
        }
        return link;
    }

    @Override
    public void close() {
        if (link != null) {
            if (keepAttached) {
                libbpf.lib().bpf_link__disconnect(link); // only free our handle; the pin holds the attachment
            }
            libbpf.lib().bpf_link__destroy(link);
            link = null;
        }
    }
}
