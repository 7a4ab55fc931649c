package io.efuse.csi.metrics;

import io.efuse.csi.sys.MountTable;
import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which eFuse volume each FUSE connection of this node serves, so that per-connection figures from the monitor
 * become per-volume series. The process that mounts registers each mount and forgets it on unmount. With a state
 * directory (e.g. /run/efuse/volumes) every entry is also a small file there, so that other processes on the node
 * ({@code efuse-csi status}) can read the same directory.
 */
public final class VolumeDirectory {

    /** A mounted volume: its CSI volume id (or a name for standalone mounts), mount point and running tier. */
    public record Volume(int connection, String volumeId, String mountPoint, String tier) {
    }

    private static final Logger LOG = LoggerFactory.getLogger(VolumeDirectory.class);

    public static final Path DEFAULT_STATE_DIR = Path.of("/run/efuse/volumes");

    private final Map<Integer, Volume> byConnection = new ConcurrentHashMap<>();
    private final Path stateDir;
    private final LiveConnections live;

    /** The FUSE connections mounted now: a published volume of any other is stale (its process died). */
    @FunctionalInterface
    interface LiveConnections {
        Set<Integer> read() throws IOException;
    }

    /** In memory only. */
    public VolumeDirectory() {
        this(null, VolumeDirectory::mountedFuseConnections);
    }

    /** Also published as files in stateDir. */
    public VolumeDirectory(Path stateDir) {
        this(stateDir, VolumeDirectory::mountedFuseConnections);
    }

    VolumeDirectory(Path stateDir, LiveConnections live) {
        this.stateDir = stateDir;
        this.live = live;
    }

    private static Set<Integer> mountedFuseConnections() throws IOException {
        Set<Integer> out = new HashSet<>();
        for (MountTable.Entry e : MountTable.read()) {
            if (e.major() == 0 && (e.fsType().equals("fuse") || e.fsType().startsWith("fuse."))) {
                out.add(e.minor());
            }
        }
        return out;
    }

    public void register(Volume v) {
        byConnection.put(v.connection(), v);
        if (stateDir != null) {
            write(v);
        }
    }

    public void forget(int connection) {
        byConnection.remove(connection);
        if (stateDir != null) {
            try {
                Files.deleteIfExists(stateDir.resolve(Integer.toString(connection)));
            } catch (IOException e) {
                throw new UncheckedIOException("forget volume of connection " + connection + " in " + stateDir, e);
            }
        }
    }

    /** The volume of a connection: one this process registered, else one another process published. */
    public Optional<Volume> byConnection(int connection) {
        Volume own = byConnection.get(connection);
        if (own != null || stateDir == null) {
            return Optional.ofNullable(own);
        }
        return Optional.ofNullable(all().get(connection));
    }

    /**
     * The volumes this process registered and, with a state directory, those the node's other processes published
     * there and that are still mounted (the node plugin exports the sessions an eFuse daemon process serves this
     * way).
     */
    public Map<Integer, Volume> all() {
        if (stateDir == null) {
            return Map.copyOf(byConnection);
        }
        Map<Integer, Volume> out;
        try {
            out = readPublished(stateDir);
            // A process killed before it withdrew its volumes leaves their files; their connection ids get reused.
            out.keySet().retainAll(live.read());
        } catch (IOException | RuntimeException e) {
            LOG.warn("reading the volumes published in " + stateDir + ": " + e.getMessage());
            out = new TreeMap<>();
        }
        out.putAll(byConnection);
        return out;
    }

    /** What the processes of this node published in stateDir (possibly stale: check against the mount table). */
    public static Map<Integer, Volume> readPublished(Path stateDir) throws IOException {
        Map<Integer, Volume> out = new TreeMap<>();
        if (!Files.isDirectory(stateDir)) {
            return out;
        }
        try (DirectoryStream<Path> files = Files.newDirectoryStream(stateDir, "[0-9]*")) {
            for (Path f : files) {
                Properties p = new Properties();
                try (Reader r = Files.newBufferedReader(f)) {
                    p.load(r);
                } catch (IOException e) {
                    continue; // removed meanwhile
                }
                int conn;
                try {
                    conn = Integer.parseInt(f.getFileName().toString());
                } catch (NumberFormatException e) {
                    continue; // not one of ours
                }
                out.put(conn, new Volume(conn, p.getProperty("volume", "?"), p.getProperty("mount_point", "?"),
                        p.getProperty("tier", "?")));
            }
        }
        return out;
    }

    private void write(Volume v) {
        Properties p = new Properties();
        p.setProperty("volume", v.volumeId());
        p.setProperty("mount_point", v.mountPoint());
        p.setProperty("tier", v.tier());
        try {
            Files.createDirectories(stateDir);
            Path tmp = stateDir.resolve("." + v.connection() + ".tmp");
            try (Writer w = Files.newBufferedWriter(tmp)) {
                p.store(w, null);
            }
            Files.move(tmp, stateDir.resolve(Integer.toString(v.connection())), StandardCopyOption.ATOMIC_MOVE,
                    StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException("publish volume " + v.volumeId() + " in " + stateDir, e);
        }
    }
}
