package io.efuse.csi.fsd;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One message between the fd keeper and the FUSE daemon host, sent as one SOCK_SEQPACKET packet with
 * its /dev/fuse descriptors attached. Wire format (big-endian): magic "EFKP", u16 protocol version,
 * u16 type, u16 field count, then per field a u16-length UTF-8 key and a u32-length UTF-8 value.
 * Each message carries the version that introduced its type, so that the messages of version 1 stay
 * readable by version 1 peers (the node plugin and the daemon roll independently): a peer that gets a
 * version it does not speak refuses the message with a clear error rather than guess. A daemon says
 * in its HELLO which version it speaks, and the keeper sends it no message of a later one.
 *
 * @param fds descriptors attached to (or received with) the message
 */
public record KeeperMessage(Type type, Map<String, String> fields, int[] fds) {
    /** The newest version this side speaks; it reads every version from 1 up to it. */
    public static final int VERSION = 3;
    private static final int MAGIC = 0x45464b50; // "EFKP"

    /** Message types; the wire carries the ordinal, so new types are only ever appended. */
    public enum Type {
        /**
         * daemon → keeper, first message: {@code pid}, {@code volumes} it serves (comma-separated) and, from
         * version 2, {@code protocol}: the newest version it speaks (absent: 1).
         */
        HELLO(1),
        /** keeper → daemon: another daemon serves; wait to be given the volumes. */
        STANDBY(1),
        /**
         * daemon → keeper: keep these device descriptors of {@code volume} ({@code mountPoint}, {@code stateDir};
         * from version 2 also {@code tier}). Sent again whenever the set changes (workers added or retired);
         * the new set replaces the old one.
         */
        HOLD(1),
        /** keeper → daemon: serve {@code volume} from the attached descriptors and the state in {@code stateDir}. */
        ADOPT(1),
        /** keeper → daemon: mount {@code volume} ({@code options}: mount options, {@code stateDir}). */
        MOUNT(1),
        /** daemon → keeper: {@code volume} is mounted (its HOLD came first). */
        MOUNTED(1),
        /** daemon → keeper: {@code volume} could not be mounted, unmounted, resized or changed: {@code error}. */
        FAILED(1),
        /** keeper → daemon: unmount {@code volume}. */
        UNMOUNT(1),
        /** daemon → keeper: {@code volume} is unmounted; its descriptors can go. */
        RELEASED(1),
        /** daemon → keeper: this daemon stopped serving every volume without unmounting; hand them on. */
        DETACHED(1),
        /** keeper → daemon: new limits for {@code volume}: {@code maxBytes}, {@code maxInodes} (online expansion). */
        RESIZE(2),
        /** daemon → keeper: {@code volume} has its new limits, kept in its state for the next daemon too. */
        RESIZED(2),
        /**
         * keeper → daemon: new settings for the live {@code volume}: {@code tier}, {@code writebackCache}
         * (ControllerModifyVolume); the daemon applies what the session allows.
         */
        MODIFY(3),
        /**
         * daemon → keeper: what {@code volume} serves with now, {@code tier}, and what waits for its next session:
         * {@code tierWaits}, {@code writebackCacheWaits} (true or false); the tier is kept in its state.
         */
        MODIFIED(3),
        /**
         * keeper → daemon: hold back the changes to {@code volume} (a group snapshot), waiting {@code drainMillis}
         * for those running; the hold ends by itself after {@code holdMillis}.
         */
        QUIESCE(3),
        /**
         * daemon → keeper: {@code volume} is held ({@code generation}); {@code passthroughWriters} files write past
         * the hold, and {@code writebackCache} is true when completed writes may sit in the kernel's page cache.
         */
        QUIESCED(3),
        /** keeper → daemon: end the hold {@code generation} of {@code volume}. */
        RESUME(3),
        /** daemon → keeper: the hold of {@code volume} ended; {@code held} is false if it had run out before. */
        RESUMED(3);

        /** The protocol version that introduced this type, and the one its messages carry. */
        public final int since;

        Type(int since) {
            this.since = since;
        }
    }

    public KeeperMessage {
        fields = Map.copyOf(fields);
        fds = fds.clone();
    }

    public static KeeperMessage of(Type type, String... keyValues) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i + 1 < keyValues.length; i += 2) {
            m.put(keyValues[i], keyValues[i + 1]);
        }
        return new KeeperMessage(type, m, new int[0]);
    }

    public KeeperMessage withFds(int[] descriptors) {
        return new KeeperMessage(type, fields, descriptors);
    }

    public String get(String key) {
        String v = fields.get(key);
        if (v == null) {
            throw new IllegalArgumentException(type + " message without " + key);
        }
        return v;
    }

    public String get(String key, String fallback) {
        return fields.getOrDefault(key, fallback);
    }

    public byte[] encode() {
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            DataOutputStream out = new DataOutputStream(bytes);
            out.writeInt(MAGIC);
            out.writeShort(type.since);
            out.writeShort(type.ordinal());
            out.writeShort(fields.size());
            for (Map.Entry<String, String> e : fields.entrySet()) {
                byte[] k = e.getKey().getBytes(StandardCharsets.UTF_8);
                byte[] v = e.getValue().getBytes(StandardCharsets.UTF_8);
                out.writeShort(k.length);
                out.write(k);
                out.writeInt(v.length);
                out.write(v);
            }
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Decodes a packet; fds are the descriptors that came with it. */
    public static KeeperMessage decode(byte[] body, int[] fds) throws IOException {
        DataInputStream in = new DataInputStream(new java.io.ByteArrayInputStream(body));
        if (body.length < 10 || in.readInt() != MAGIC) {
            throw new IOException("not an fd keeper message (" + body.length + " bytes)");
        }
        int version = in.readUnsignedShort();
        if (version < 1 || version > VERSION) {
            throw new IOException("fd keeper protocol version " + version + " from the peer, this side speaks 1 to "
                    + VERSION + ": run matching versions of the node plugin and the daemon");
        }
        int t = in.readUnsignedShort();
        if (t >= Type.values().length || Type.values()[t].since > version) {
            throw new IOException("unknown fd keeper message type " + t + " in protocol version " + version);
        }
        int n = in.readUnsignedShort();
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < n; i++) {
            byte[] k = new byte[in.readUnsignedShort()];
            in.readFully(k);
            int vl = in.readInt();
            if (vl < 0 || vl > body.length) {
                throw new IOException("bad field length " + vl + " in fd keeper message");
            }
            byte[] v = new byte[vl];
            in.readFully(v);
            m.put(new String(k, StandardCharsets.UTF_8), new String(v, StandardCharsets.UTF_8));
        }
        return new KeeperMessage(Type.values()[t], m, fds);
    }

    @Override
    public String toString() {
        return type + fields.toString() + (fds.length > 0 ? " +" + fds.length + " fds" : "");
    }
}
