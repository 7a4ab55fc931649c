package io.efuse.csi.bpf;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * One BPF ELF object: opened from bytes, its maps configured (pin paths, sizes), then loaded into the kernel.
 * Closing it unloads what no link, pin or other fd still holds.
 */
public final class BpfObject implements AutoCloseable {

    private final Libbpf libbpf;
    private final String name;
    private Pointer obj;
    private boolean loaded;

    private BpfObject(Libbpf libbpf, String name, Pointer obj) {
        this.libbpf = libbpf;
        this.name = name;
        this.obj = obj;
    }

    /** Opens (parses) an object; nothing reaches the kernel before {@link #load()}. */
    public static BpfObject open(Libbpf libbpf, String name, byte[] elf) {
        Memory buf = new Memory(elf.length);
        buf.write(0, elf, 0, elf.length);
        LibbpfNative.OpenOpts opts = new LibbpfNative.OpenOpts(name);
        // libbpf copies the ELF during open, so buf may go once open returns
        Pointer obj = libbpf.callPointer("open BPF object", name,
                () -> libbpf.lib().bpf_object__open_mem(buf, elf.length, opts));
        return new BpfObject(libbpf, name, obj);
    }

    public String name() {
        return name;
    }

    /** Creates the maps (reusing pinned ones whose pin path is set), relocates (CO-RE) and verifies the programs. */
    public void load() {
        requireOpen();
        libbpf.call("load BPF object", name, () -> libbpf.lib().bpf_object__load(obj));
        loaded = true;
    }

    public List<BpfProgram> programs() {
        requireOpen();
        List<BpfProgram> all = new ArrayList<>();
        for (Pointer p = libbpf.lib().bpf_object__next_program(obj, null); p != null;
                p = libbpf.lib().bpf_object__next_program(obj, p)) {
            all.add(new BpfProgram(libbpf, this, p));
        }
        return all;
    }

    public Optional<BpfProgram> program(String programName) {
        return programs().stream().filter(p -> p.name().equals(programName)).findFirst();
    }

    /** The object's maps as declared; their fds exist once loaded. */
    public List<ObjectMap> maps() {
        requireOpen();
        List<ObjectMap> all = new ArrayList<>();
        for (Pointer m = libbpf.lib().bpf_object__next_map(obj, null); m != null;
                m = libbpf.lib().bpf_object__next_map(obj, m)) {
            all.add(new ObjectMap(m));
        }
        return all;
    }

    public ObjectMap map(String mapName) {
        return maps().stream().filter(m -> m.name().equals(mapName)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("BPF object " + name + " has no map " + mapName));
    }

    boolean loaded() {
        return loaded;
    }

    Libbpf libbpf() {
        return libbpf;
    }

    private void requireOpen() {
        if (obj == null) {
            throw new IllegalStateException("BPF object " + name + " is closed");
        }
    }

    @Override
    public void close() {
        if (obj != null) {
            libbpf.lib().bpf_object__close(obj);
            obj = null;
        }
    }

    /** A map of this object, before or after load. */
    public final class ObjectMap {
        private final Pointer map;

        private ObjectMap(Pointer map) {
            this.map = map;
        }

        public String name() {
            return libbpf.lib().bpf_map__name(map);
        }

        /** Set before load: libbpf reuses the map pinned there if compatible, else creates and pins it. */
        public void setPinPath(String path) {
            libbpf.call("set pin path " + path + " of map", name + "/" + name(),
                    () -> libbpf.lib().bpf_map__set_pin_path(map, path));
        }

        public void setMaxEntries(int maxEntries) {
            libbpf.call("set max_entries of map", name + "/" + name(),
                    () -> libbpf.lib().bpf_map__set_max_entries(map, maxEntries));
        }

        /**
         * Registers a loaded struct_ops map's programs as its value. For a plain {@code .struct_ops} map the
         * kernel type decides where it takes effect (the eFuse kernel: an ioctl on a FUSE connection); closing
         * the link clears the value.
         */
        public BpfLink attachStructOps() {
            if (!loaded) {
                throw new IllegalStateException("BPF object " + name + " is not loaded");
            }
            Pointer link = libbpf.callPointer("set struct_ops value of map", name + "/" + name(),
                    () -> libbpf.lib().bpf_map__attach_struct_ops(map));
            return new BpfLink(libbpf, name + "/" + name(), link);
        }

        /** A view over the loaded map; it borrows the object's fd and dies with the object. */
        public BpfMap view() {
            if (!loaded) {
                throw new IllegalStateException("BPF object " + name + " is not loaded");
            }
            int fd = libbpf.call("get fd of map", name + "/" + name(), () -> libbpf.lib().bpf_map__fd(map));
            return new BpfMap(libbpf, name(), fd, false, BpfMapType.of(libbpf.lib().bpf_map__type(map)),
                    libbpf.lib().bpf_map__key_size(map), libbpf.lib().bpf_map__value_size(map),
                    libbpf.lib().bpf_map__max_entries(map));
        }
    }
}
