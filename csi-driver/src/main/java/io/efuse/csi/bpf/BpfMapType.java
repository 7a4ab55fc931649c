package io.efuse.csi.bpf;

/** bpf_map_type values that matter to the views; anything else is OTHER. */
public enum BpfMapType {
    HASH(1, false), ARRAY(2, false), PERCPU_HASH(5, true), PERCPU_ARRAY(6, true), LRU_HASH(9, false),
    LRU_PERCPU_HASH(10, true), RINGBUF(27, false), OTHER(-1, false);

    private final int id;
    private final boolean perCpu;

    BpfMapType(int id, boolean perCpu) {
        this.id = id;
        this.perCpu = perCpu;
    }

    public boolean perCpu() {
        return perCpu;
    }

    public static BpfMapType of(int id) {
        for (BpfMapType t : values()) {
            if (t.id == id) {
                return t;
            }
        }
        return OTHER;
    }
}
