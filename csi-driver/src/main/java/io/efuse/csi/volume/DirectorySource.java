package io.efuse.csi.volume;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** A source whose files already are a directory on the root: a volume directory, a snapshot copy, a subvolume. */
record DirectorySource(ContentSource.Kind kind, String id, EngineKind engine, Path dir) implements SourceData {
    @Override
    public Path directory() throws NoSuchFileException {
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            throw new NoSuchFileException(dir.toString(), null, "content source has no data");
        }
        return dir;
    }

    @Override
    public void close() {}
}
