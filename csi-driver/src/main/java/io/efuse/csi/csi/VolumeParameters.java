package io.efuse.csi.csi;

import io.efuse.csi.volume.Backend;
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

    private static final Set<String> FIXED = Set.of(BACKEND, INODES, TIER, WRITEBACK_CACHE);
    private static final Set<String> MUTABLE = Set.of(TIER, WRITEBACK_CACHE);
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
                                WRITEBACK_CACHE, "true|false")));
            }
            kept.put(k, v);
        });
        backend(kept);
        checkCommon(kept);
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
