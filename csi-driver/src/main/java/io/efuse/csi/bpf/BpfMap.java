package io.efuse.csi.bpf;

import com.sun.jna.ptr.IntByReference;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Raw access to one kernel map by fd: keys and values are byte arrays in the kernel's layout. For per-CPU maps a
 * value is {@link #valueSlotSize()} bytes per possible CPU, one after the other. Typed access: {@link MapView}.
 */
public final class BpfMap implements AutoCloseable {

    public static final long BPF_ANY = 0;
    public static final long BPF_NOEXIST = 1;
    public static final long BPF_EXIST = 2;
    private static final int ENOENT = 2;

    private final Libbpf libbpf;
    private final String name;
    private final boolean ownsFd;
    private final BpfMapType type;
    private final int keySize;
    private final int valueSize;
    private final int maxEntries;
    private final int cpus;
    private int fd;

    BpfMap(Libbpf libbpf, String name, int fd, boolean ownsFd, BpfMapType type, int keySize, int valueSize,
            int maxEntries) {
        this.libbpf = libbpf;
        this.name = name;
        this.fd = fd;
        this.ownsFd = ownsFd;
        this.type = type;
        this.keySize = keySize;
        this.valueSize = valueSize;
        this.maxEntries = maxEntries;
        this.cpus = type.perCpu() ? libbpf.numPossibleCpus() : 1;
    }

    /** Opens a map pinned in bpffs; the view owns the new fd. */
    public static BpfMap openPinned(Libbpf libbpf, Path path) {
        int fd = libbpf.call("open pinned map", path.toString(), () -> libbpf.lib().bpf_obj_get(path.toString()));
        try {
            byte[] info = new byte[128];
            IntByReference len = new IntByReference(info.length);
            libbpf.call("get info of map", path.toString(), () -> libbpf.lib().bpf_obj_get_info_by_fd(fd, info, len));
            ByteBuffer b = ByteBuffer.wrap(info).order(ByteOrder.nativeOrder());
            int nameEnd = 24;
            while (nameEnd < 40 && info[nameEnd] != 0) {
                nameEnd++;
            }
            String name = new String(info, 24, nameEnd - 24, StandardCharsets.UTF_8);
            return new BpfMap(libbpf, name, fd, true, BpfMapType.of(b.getInt(0)), b.getInt(8), b.getInt(12),
                    b.getInt(16));
        } catch (RuntimeException e) {
            BpfLibc.INSTANCE.close(fd);
            throw e;
        }
    }

    public String name() {
        return name;
    }

    public BpfMapType type() {
        return type;
    }

    public int keySize() {
        return keySize;
    }

    /** Size of one value as the program sees it. */
    public int valueSize() {
        return valueSize;
    }

    public int maxEntries() {
        return maxEntries;
    }

    /** Number of values per key: the possible CPUs for per-CPU maps, else 1. */
    public int cpus() {
        return cpus;
    }

    /** Bytes of one CPU's value inside a per-CPU buffer (the kernel rounds up to 8). */
    public int valueSlotSize() {
        return type.perCpu() ? (valueSize + 7) & ~7 : valueSize;
    }

    /** Bytes a lookup returns: one slot per CPU for per-CPU maps. */
    public int valueBufferSize() {
        return valueSlotSize() * cpus;
    }

    public int fd() {
        requireOpen();
        return fd;
    }

    public Optional<byte[]> lookup(byte[] key) {
        checkKey(key);
        byte[] value = new byte[valueBufferSize()];
        int rc = libbpf.lib().bpf_map_lookup_elem(fd(), key, value);
        if (rc == -ENOENT) {
            return Optional.empty();
        }
        if (rc < 0) {
            throw libbpf.failure("lookup in map", name, -rc);
        }
        return Optional.of(value);
    }

    /** flags: {@link #BPF_ANY}, {@link #BPF_NOEXIST} or {@link #BPF_EXIST}. */
    public void update(byte[] key, byte[] value, long flags) {
        checkKey(key);
        if (value.length != valueBufferSize()) {
            throw new IllegalArgumentException("map " + name + " takes " + valueBufferSize() + "-byte values, got "
                    + value.length);
        }
        libbpf.call("update map", name, () -> libbpf.lib().bpf_map_update_elem(fd(), key, value, flags));
    }

    /** @return false when the key was absent */
    public boolean delete(byte[] key) {
        checkKey(key);
        int rc = libbpf.lib().bpf_map_delete_elem(fd(), key);
        if (rc == -ENOENT) {
            return false;
        }
        if (rc < 0) {
            throw libbpf.failure("delete from map", name, -rc);
        }
        return true;
    }

    /**
     * The keys present now. Entries deleted while iterating make the kernel restart from the first key, so
     * duplicates are dropped here.
     */
    public List<byte[]> keys() {
        List<byte[]> keys = new ArrayList<>();
        Set<ByteBuffer> seen = new HashSet<>();
        byte[] prev = null;
        // bounded: a map churning faster than we read must not keep us here
        for (long steps = 0; steps <= 2L * maxEntries + 1; steps++) {
            byte[] next = new byte[keySize];
            int rc = libbpf.lib().bpf_map_get_next_key(fd(), prev, next);
            if (rc == -ENOENT) {
                break;
            }
            if (rc < 0) {
                throw libbpf.failure("iterate map", name, -rc);
            }
            if (seen.add(ByteBuffer.wrap(next))) {
                keys.add(next);
            }
            prev = next;
        }
        return keys;
    }

    private void checkKey(byte[] key) {
        if (key.length != keySize) {
            throw new IllegalArgumentException("map " + name + " takes " + keySize + "-byte keys, got " + key.length);
        }
    }

    private void requireOpen() {
        if (fd < 0) {
            throw new IllegalStateException("map " + name + " is closed");
        }
    }

    @Override
    public void close() {
        if (ownsFd && fd >= 0) {
            BpfLibc.INSTANCE.close(fd);
        }
        fd = -1;
    }
}
