package io.efuse.csi.csi;

import io.efuse.csi.volume.Backend;
import io.efuse.csi.volume.EngineKind;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The StorageClass parameters (fixed at creation) and the VolumeAttributesClass parameters (mutable) this driver
 * understands. Unknown keys are refused so that a typo does not silently give a different volume; the
 * {@code csi.storage.k8s.io/} keys that the provisioner adds are metadata and are set aside.
 */
final class VolumeParameters {
    static final String BACKEND = "backend";
    static final String INODES = "inodes";
    static final String TIER = "tier";
    static final String WRITEBACK_CACHE = "writebackCache";
    /** The size of an inline volume: a pod has no claim whose request could say it. */
    static final String SIZE = "size";
    /** The storage engine a volume asks for: the node's choice when absent or auto. */
    static final String ENGINE = EngineKind.PARAMETER;

    private static final Set<String> FIXED = Set.of(BACKEND, INODES, TIER, WRITEBACK_CACHE, ENGINE);
    private static final Set<String> MUTABLE = Set.of(TIER, WRITEBACK_CACHE);
    private static final Set<String> INLINE = Set.of(SIZE, BACKEND, INODES, TIER, WRITEBACK_CACHE, ENGINE);
    static final String INLINE_KEYS = "size (required, e.g. 256Mi), tier (auto|classic|passthrough), writebackCache "
            + "(true|false), inodes (a count), backend (local), engine (auto|" + EngineKind.labels() + ")";
    private static final Set<String> TIERS = Set.of("auto", "classic", "passthrough");
    private static final String CO_METADATA_PREFIX = "csi.storage.k8s.io/";

    /** Bytes of capacity per inode when the class sets no inode limit; small files are the common case. */
    static final long BYTES_PER_INODE = 16 * 1024;
    static final long MIN_INODES = 4096;

    private VolumeParameters() {}

    /** The creation parameters to keep with the volume, without the CO's metadata keys. */
    static Map<String, String> fixed(Map<String, String> raw) {
        Map<String, String> kept = new TreeMap<>();
        raw.forEach((k, v) -> {
            if (k.startsWith(CO_METADATA_PREFIX)) {
                return;
            }
            if (!FIXED.contains(k)) {
                throw CsiErrors.invalid("unknown parameter '" + k + "'; this driver knows " + new TreeMap<>(
                        Map.of(BACKEND, "local|shared", INODES, "count", TIER, "auto|classic|passthrough",
                                WRITEBACK_CACHE, "true|false", ENGINE, "auto|" + EngineKind.labels())));
            }
            kept.put(k, v);
        });
        Backend backend = backend(kept);
        checkCommon(kept);
        EngineKind engine = engine(kept);
        if (backend == Backend.SHARED && engine != null && engine != EngineKind.DAEMON
                && engine != EngineKind.PROJECT_QUOTA) {
            throw CsiErrors.invalid("parameter engine " + engine.label() + " keeps a volume on one node; the shared "
                    + "backend's volumes are directories on the shared root (engine daemon or project-quota)");
        }
        String inodes = kept.get(INODES);
        if (inodes != null) {
            try {
                if (Long.parseLong(inodes) <= 0) {
                    throw new NumberFormatException();
                }
            } catch (NumberFormatException e) {
                throw CsiErrors.invalid("parameter inodes must be a positive count, not '" + inodes + "'");
            }
        }
        return kept;
    }

    /** An inline volume as its pod's volumeAttributes describe it: the size, its inode limit, the parameters. */
    record Inline(long bytes, long inodes, Map<String, String> parameters) {}

    /**
     * The volumeAttributes of an inline volume (NodePublishVolume's volume_context, with the CO's
     * {@code csi.storage.k8s.io/} keys set aside), checked as CreateVolume checks a StorageClass's parameters, plus
     * the size, which is required: the scheduler never sees an inline volume, so its size is written where the pod's
     * author reads it rather than defaulted out of sight. {@code backend} may only be local: the volume lives and dies
     * with its pod on this node. {@code maxBytes} (0: none) is the node's bound on one inline volume.
     */
    static Inline inline(Map<String, String> context, long maxBytes) {
        Map<String, String> params = new TreeMap<>();
        String size = null;
        for (var e : new TreeMap<>(context).entrySet()) {
            String k = e.getKey();
            if (k.startsWith(CO_METADATA_PREFIX)) {
                continue;
            }
            if (!INLINE.contains(k)) {
                throw CsiErrors.invalid("unknown volume attribute '" + k + "' of an inline volume; it takes "
                        + INLINE_KEYS);
            }
            if (k.equals(SIZE)) {
                size = e.getValue();
            } else {
                params.put(k, e.getValue());
            }
        }
        if (size == null) {
            throw CsiErrors.invalid("an inline volume needs its size in volumeAttributes, e.g. size: 256Mi; it takes "
                    + INLINE_KEYS);
        }
        long bytes;
        try {
            bytes = ByteQuantity.parse(size);
        } catch (IllegalArgumentException e) {
            throw CsiErrors.invalid("volume attribute size: " + e.getMessage());
        }
        if (maxBytes > 0 && bytes > maxBytes) {
            throw CsiErrors.invalid("volume attribute size " + size + " (" + bytes + " bytes) is more than this node "
                    + "allows an inline volume: " + maxBytes + " bytes (--inline-volume-max-size)");
        }
        Map<String, String> kept = fixed(params);
        if (backend(kept) != Backend.LOCAL) {
            throw CsiErrors.invalid("volume attribute backend must be local: an inline volume lives on its pod's node "
                    + "and goes with the pod");
        }
        kept.remove(BACKEND); // always local: written or not, the same volume
        return new Inline(bytes, inodeLimit(kept, bytes), kept);
    }

    static Map<String, String> mutable(Map<String, String> raw) {
        Map<String, String> kept = new TreeMap<>();
        raw.forEach((k, v) -> {
            if (!MUTABLE.contains(k)) {
                throw CsiErrors.invalid("parameter '" + k + "' cannot be changed; mutable parameters are " + MUTABLE);
            }
            kept.put(k, v);
        });
        checkCommon(kept);
        return kept;
    }

    static Backend backend(Map<String, String> params) {
        try {
            return Backend.parse(params.get(BACKEND));
        } catch (IllegalArgumentException e) {
            throw CsiErrors.invalid("parameter " + e.getMessage());
        }
    }

    static EngineKind engine(Map<String, String> params) {
        try {
            return EngineKind.requested(params);
        } catch (IllegalArgumentException e) {
            throw CsiErrors.invalid("parameter " + e.getMessage());
        }
    }

    static long inodeLimit(Map<String, String> params, long capacityBytes) {
        String explicit = params.get(INODES);
        if (explicit != null) {
            return Long.parseLong(explicit);
        }
        return Math.max(MIN_INODES, capacityBytes / BYTES_PER_INODE);
    }

    /** The effective value of a setting: the mutable one wins over the creation one. */
    static String effective(String key, Map<String, String> fixed, Map<String, String> mutable, String fallback) {
        return mutable.getOrDefault(key, fixed.getOrDefault(key, fallback));
    }

    private static void checkCommon(Map<String, String> params) {
        String tier = params.get(TIER);
        if (tier != null && !TIERS.contains(tier)) {
            throw CsiErrors.invalid("parameter tier must be one of " + TIERS + ", not '" + tier + "'");
        }
        String wb = params.get(WRITEBACK_CACHE);
        if (wb != null && !wb.equals("true") && !wb.equals("false")) {
            throw CsiErrors.invalid("parameter writebackCache must be true or false, not '" + wb + "'");
        }
    }
}
