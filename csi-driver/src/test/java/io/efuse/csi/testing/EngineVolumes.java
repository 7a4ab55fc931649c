package io.efuse.csi.testing;

import io.efuse.csi.volume.BackingStore;
import io.efuse.csi.volume.EngineKind;
import io.efuse.csi.volume.Limits;
import io.efuse.csi.volume.StorageOptions;
import io.efuse.csi.volume.VolumeException;
import io.efuse.csi.volume.VolumeIds;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Volumes of one storage engine for tests that need their files on what a PVC of that engine stands on: a btrfs
 * subvolume (on a btrfs made for the test), an image's filesystem, a plain directory. Closing deletes the volumes
 * and whatever was made for them.
 */
public final class EngineVolumes implements AutoCloseable {
    private final BackingStore store;
    private final BtrfsFilesystem pool;
    private final List<String> made = new ArrayList<>();

    private EngineVolumes(BackingStore store, BtrfsFilesystem pool) {
        this.store = store;
        this.pool = pool;
    }

    /** Volumes of {@code engine} (btrfs, image, daemon) under {@code dir}; image volumes hold ext4. */
    public static EngineVolumes open(Path dir, String engine) throws IOException {
        EngineKind kind = EngineKind.parse(engine);
        BtrfsFilesystem pool = kind == EngineKind.BTRFS ? BtrfsFilesystem.create(dir, "pool", 4096L << 20) : null;
        try {
            Path root = pool != null ? pool.root() : Files.createDirectories(dir.resolve("engine-root"));
            return new EngineVolumes(BackingStore.open(root, new StorageOptions(kind, "ext4", null, 0)), pool);
        } catch (IOException | RuntimeException e) {
            if (pool != null) {
                pool.close();
            }
            throw e;
        }
    }

    /** A new volume of {@code bytes}, ready to be used as a directory. */
    public Path volume(String name, long bytes) throws IOException {
        String id = VolumeIds.volumeId(name);
        try {
            store.createVolume(id, new Limits(bytes, 0), null);
            made.add(id);
            return store.serve(id);
        } catch (VolumeException e) {
            throw new IOException(e.getMessage(), e);
        }
    }

    @Override
    public void close() throws IOException {
        IOException failure = null;
        for (String id : made) {
            try {
                store.deleteVolume(id);
            } catch (IOException | VolumeException e) {
                failure = failure == null ? new IOException("deleting " + id + ": " + e.getMessage(), e) : failure;
            }
        }
        if (pool != null) {
            pool.close();
        }
        if (failure != null) {
            throw failure;
        }
    }
}
