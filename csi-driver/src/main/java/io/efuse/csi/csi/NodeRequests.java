package io.efuse.csi.csi;

import csi.v1.Csi.VolumeCapability;
import io.efuse.csi.sys.MountFlags;
import io.efuse.csi.volume.Volume;
import io.efuse.csi.volume.VolumeIds;
import java.nio.file.Path;
import java.util.List;

/** The Node service's checks of a request's fields, each failing with the code and message the spec names. */
final class NodeRequests {
    private NodeRequests() {
    }

    static void requirePresent(String p, String field) {
        if (p.isEmpty()) {
            throw CsiErrors.invalid(field + " is required");
        }
    }

    /**
     * Anything not shaped like a volume id names no volume of this driver: NOT_FOUND, and the path it came with is
     * left alone. Unstage and unpublish of a well-formed id clean up even when the volume is gone from the store
     * (deleted after a crash), because a CO retries a failed cleanup for ever.
     */
    static void requireVolumeShapedId(String id) {
        if (!VolumeIds.isVolumeId(id)) {
            throw CsiErrors.notFound("volume " + id + " does not exist");
        }
    }

    static Path requirePath(String p, String field) {
        requirePresent(p, field);
        Path path = absolute(p);
        if (path == null) {
            throw CsiErrors.invalid(field + " must be an absolute, normalized path: " + p);
        }
        return path;
    }

    /** p as a path if it is absolute and normalized (no ., .., empty or NUL components), else null. */
    static Path absolute(String p) {
        if (p.indexOf('\0') >= 0 || !p.startsWith("/")) {
            return null;
        }
        Path path = Path.of(p);
        if (!path.normalize().equals(path) || p.contains("/../") || p.endsWith("/..")) {
            return null;
        }
        return path;
    }

    static VolumeCapability requireCapability(boolean present, VolumeCapability cap) {
        if (!present) {
            throw CsiErrors.invalid("volume_capability is required");
        }
        if (!cap.hasMount() && !cap.hasBlock()) {
            throw CsiErrors.invalid("volume_capability needs an access type");
        }
        if (!cap.hasAccessMode()) {
            throw CsiErrors.invalid("volume_capability needs an access mode");
        }
        return cap;
    }

    static void checkCapability(VolumeCapability cap, Volume v) {
        ControllerService.capabilityProblem(List.of(cap), v.backend()).ifPresent(why -> {
            throw CsiErrors.failedPrecondition(why);
        });
    }

    static long mountFlags(List<String> flags) {
        long out = 0;
        for (String f : flags) {
            out |= MountFlags.of(f).orElseThrow(() -> CsiErrors.invalid("mount flag '" + f
                    + "' is not supported; supported: " + MountFlags.known()));
        }
        return out;
    }

    static int parseGroup(String group) {
        try {
            int gid = Integer.parseInt(group);
            if (gid < 0) {
                throw new NumberFormatException();
            }
            return gid;
        } catch (NumberFormatException e) {
            throw CsiErrors.invalid("volume_mount_group must be a numeric group id, not '" + group + "'");
        }
    }
}
