package io.efuse.csi.volume;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.regex.Pattern;

/**
 * Volume and snapshot ids. An id is derived from the CO's name, so that a repeated CreateVolume finds the same
 * volume even when a controller restarted half-way; and it is a short lowercase token that is safe as a directory
 * name and a Kubernetes object name. Anything not shaped like an id is unknown: it never reaches a path.
 */
public final class VolumeIds {
    private static final Pattern VOLUME = Pattern.compile("v-[0-9a-f]{32}");
    private static final Pattern SNAPSHOT = Pattern.compile("s-[0-9a-f]{32}");
    private static final Pattern GROUP = Pattern.compile("g-[0-9a-f]{32}");
    private static final Pattern INLINE = Pattern.compile("i-[0-9a-f]{32}");

    private VolumeIds() {}

    public static String volumeId(String name) {
        return "v-" + digest("volume", name);
    }

    public static String snapshotId(String name) {
        return "s-" + digest("snapshot", name);
    }

    public static String groupSnapshotId(String name) {
        return "g-" + digest("group-snapshot", name);
    }

    /** The id of the member of group snapshot {@code groupId} that holds volume {@code volumeId}. */
    public static String groupMemberId(String groupId, String volumeId) {
        return "s-" + digest("group-member", groupId + "/" + volumeId);
    }

    public static boolean isGroupSnapshotId(String id) {
        return id != null && GROUP.matcher(id).matches();
    }

    /**
     * The id of a CSI ephemeral inline volume, from the handle the CO made for it (kubelet: "csi-" and a hash of
     * the pod and the volume's name). The handle is the CO's and may be anything; the id is ours, safe as a
     * directory name, and never equal to a provisioned volume's id, so neither kind can reach the other's data.
     */
    public static String inlineId(String handle) {
        return "i-" + digest("inline", handle);
    }

    public static boolean isInlineId(String id) {
        return id != null && INLINE.matcher(id).matches();
    }

    public static boolean isVolumeId(String id) {
        return id != null && VOLUME.matcher(id).matches();
    }

    public static boolean isSnapshotId(String id) {
        return id != null && SNAPSHOT.matcher(id).matches();
    }

    /** A kernel project id for a volume: stable across restarts, never 0 (the default project). */
    public static int projectId(String volumeId) {
        byte[] d = sha256("project:" + volumeId);
        int v = ((d[0] & 0x7f) << 24) | ((d[1] & 0xff) << 16) | ((d[2] & 0xff) << 8) | (d[3] & 0xff);
        return v == 0 ? 1 : v;
    }

    private static String digest(String kind, String name) {
        return HexFormat.of().formatHex(sha256(kind + ":" + name), 0, 16);
    }

    private static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every JDK", e);
        }
    }
}
