package io.efuse.csi.bpf;

import com.sun.jna.Callback;
import com.sun.jna.Library;
import com.sun.jna.Pointer;
import com.sun.jna.Structure;
import com.sun.jna.ptr.IntByReference;

/**
 * The part of libbpf.so.1 (libbpf ≥ 1.0 semantics) that efuse-csi calls. int functions return a negative errno on
 * failure; pointer functions return null and leave the errno in {@code errno}. Tests substitute this interface to
 * make a native call fail the way a kernel without BPF would.
 */
public interface LibbpfNative extends Library {

    /** libbpf_print_fn_t: level, printf format, va_list (passed on as an opaque pointer). */
    interface PrintCallback extends Callback {
        int invoke(int level, Pointer format, Pointer args);
    }

    /** ring_buffer_sample_fn. */
    interface SampleCallback extends Callback {
        int invoke(Pointer ctx, Pointer data, long size);
    }

    /** struct bpf_object_open_opts of libbpf 1.1 (later versions only append fields; sz tells them apart). */
    @Structure.FieldOrder({"sz", "object_name", "relaxed_maps", "pin_root_path", "unused_attach_prog_fd",
            "kconfig", "btf_custom_path", "kernel_log_buf", "kernel_log_size", "kernel_log_level"})
    final class OpenOpts extends Structure {
        public long sz;
        public String object_name;
        public byte relaxed_maps;
        public String pin_root_path;
        public int unused_attach_prog_fd;
        public String kconfig;
        public String btf_custom_path;
        public Pointer kernel_log_buf;
        public long kernel_log_size;
        public int kernel_log_level;

        public OpenOpts(String objectName) {
            this.object_name = objectName;
            this.sz = size();
        }
    }

    PrintCallback libbpf_set_print(PrintCallback fn);

    int libbpf_strerror(int err, byte[] buf, long size);

    int libbpf_num_possible_cpus();

    Pointer bpf_object__open_mem(Pointer buf, long size, OpenOpts opts);

    int bpf_object__load(Pointer obj);

    void bpf_object__close(Pointer obj);

    Pointer bpf_object__next_program(Pointer obj, Pointer prev);

    Pointer bpf_object__next_map(Pointer obj, Pointer prev);

    String bpf_program__name(Pointer prog);

    int bpf_program__fd(Pointer prog);

    Pointer bpf_program__attach(Pointer prog);

    String bpf_map__name(Pointer map);

    int bpf_map__fd(Pointer map);

    int bpf_map__type(Pointer map);

    int bpf_map__key_size(Pointer map);

    int bpf_map__value_size(Pointer map);

    int bpf_map__max_entries(Pointer map);

    int bpf_map__set_max_entries(Pointer map, int maxEntries);

    int bpf_map__set_pin_path(Pointer map, String path);

    /** Sets the value of a loaded struct_ops map (its programs); null with errno on failure. */
    Pointer bpf_map__attach_struct_ops(Pointer map);

    int bpf_link__pin(Pointer link, String path);

    int bpf_link__unpin(Pointer link);

    Pointer bpf_link__open(String path);

    int bpf_link__fd(Pointer link);

    void bpf_link__disconnect(Pointer link);

    int bpf_link__destroy(Pointer link);

    int bpf_obj_get(String path);

    int bpf_obj_get_info_by_fd(int fd, byte[] info, IntByReference infoLen);

    int bpf_map_lookup_elem(int fd, byte[] key, byte[] value);

    int bpf_map_update_elem(int fd, byte[] key, byte[] value, long flags);

    int bpf_map_delete_elem(int fd, byte[] key);

    int bpf_map_get_next_key(int fd, byte[] key, byte[] nextKey);

    Pointer ring_buffer__new(int mapFd, SampleCallback sample, Pointer ctx, Pointer opts);

    int ring_buffer__poll(Pointer rb, int timeoutMs);

    void ring_buffer__free(Pointer rb);
}
