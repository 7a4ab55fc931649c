package io.efuse.csi.volume;

import io.efuse.csi.sys.MountTable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.json.JsonMapper;

/**
 * The inline volumes of one node, recorded in its state directory so that they outlive the node plugin:
 * <pre>
 *   STATE/inline/ID.json     which volumes are inline, what they were made as and where they are published
 *   STATE/inline-staging/ID  the mount point of each one's eFuse session (no CO stages inline volumes)
 * </pre>
 * The data lives in the local backing store, {@code ROOT/volumes/ID}. A record is written before its volume is made
 * and removed after its data is, so a crash in between leaves a record, which the CO's retried publish or unpublish
 * finishes. A data directory without a record belongs to no pod (its records were lost) and is removed at start,
 * unless its session is still mounted: then it is left, and said so, rather than pulled from under a running pod.
 */
public final class InlineVolumes {
    private static final Logger LOG = LoggerFactory.getLogger(InlineVolumes.class);

    private final StateFiles files;
    private final Path staging;
    private final JsonMapper json = JsonMapper.builder().build();
    private final ConcurrentMap<String, InlineVolume> byId = new ConcurrentHashMap<>();

    public InlineVolumes(Path stateDir, BackingStore backing) throws IOException {
        this.files = new StateFiles(stateDir.resolve("inline"));
        this.staging = stateDir.resolve("inline-staging");
        Files.createDirectories(staging);
        for (StateFiles.Entry e : files.readAll()) {
            InlineVolume v = json.readValue(e.content(), InlineVolume.class);
            if (!VolumeIds.isInlineId(v.id()) || !v.id().equals(e.key())) {
                throw new IOException("inline volume record " + e.key() + " names volume " + v.id());
            }
            byId.put(v.id(), v);
        }
        for (String id : backing.inlineIds()) {
            if (byId.containsKey(id)) {
                continue;
            }
            if (MountTable.isMountPoint(staging.resolve(id))) {
                LOG.warn("inline volume {} has no record but is still mounted at {}; leaving its data", id,
                        staging.resolve(id));
            } else {
                LOG.info("removing inline volume directory {}: no record names it", id);
                try {
                    backing.deleteVolume(id);
                } catch (VolumeException e) {
                    throw new IOException("remove inline volume " + id + ": " + e.getMessage(), e);
                }
            }
        }
        try (var entries = Files.list(staging)) {
            for (Path p : entries.toList()) {
                String id = p.getFileName().toString();
                if (!byId.containsKey(id) && !MountTable.isMountPoint(p)) {
                    Files.deleteIfExists(p);
                }
            }
        }
        if (!byId.isEmpty()) {
            LOG.info("{} inline volumes on this node: {}", byId.size(), List.copyOf(byId.keySet()));
        }
    }

    public Optional<InlineVolume> get(String id) {
        return Optional.ofNullable(byId.get(id));
    }

    public void put(InlineVolume v) throws IOException {
        files.write(v.id(), json.writeValueAsBytes(v));
        byId.put(v.id(), v);
    }

    public void remove(String id) throws IOException {
        files.delete(id);
        byId.remove(id);
    }

    public Set<String> ids() {
        return Set.copyOf(byId.keySet());
    }

    /** Where the volume's session is mounted; the directory is the driver's own, under the state directory. */
    public Path stagingPath(String id) {
        if (!VolumeIds.isInlineId(id)) {
            throw new IllegalArgumentException("not an inline volume id: " + id);
        }
        return staging.resolve(id);
    }

    /** Removes an inline volume's staging directory once nothing is mounted there. */
    public void removeStagingDir(String id) throws IOException {
        Path p = stagingPath(id);
        if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS) && !MountTable.isMountPoint(p)) {
            Files.deleteIfExists(p);
        }
    }
}
