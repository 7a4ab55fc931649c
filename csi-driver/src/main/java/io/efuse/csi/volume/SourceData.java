package io.efuse.csi.volume;

import java.io.IOException;
import java.nio.file.Path;

/**
 * The data a new volume starts from: volume or snapshot {@code id}, held by {@code engine} on the same root. An
 * engine that holds it too copies it natively (a subvolume snapshot, a reflinked image); any other engine copies
 * its files from {@link #directory()}.
 */
interface SourceData extends AutoCloseable {
    ContentSource.Kind kind();

    String id();

    EngineKind engine();

    /** The source's files as a directory tree, made readable on first call (an image is mounted read-only). */
    Path directory() throws IOException;

    @Override
    void close() throws IOException;
}
