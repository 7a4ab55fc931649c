package io.efuse.csi.volume;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A directory of small records, one file each, that survives crashes: a record is written to a temporary file,
 * fsynced, renamed over the old one and the directory fsynced, so a reader finds either the old or the new
 * record, never a torn one.
 */
final class StateFiles {
    private static final String SUFFIX = ".json";
    private static final String TMP = ".tmp-";

    private final Path dir;
    private final AtomicLong seq = new AtomicLong();

    StateFiles(Path dir) throws IOException {
        this.dir = dir;
        Files.createDirectories(dir);
        try (var entries = Files.list(dir)) {
            for (Path p : entries.toList()) {
                if (p.getFileName().toString().startsWith(TMP)) {
                    Files.deleteIfExists(p); // a write that a crash interrupted: the old record still stands
                }
            }
        }
    }

    void write(String key, byte[] content) throws IOException {
        Path tmp = dir.resolve(TMP + key + "-" + seq.incrementAndGet());
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ByteBuffer buf = ByteBuffer.wrap(content);
            while (buf.hasRemaining()) {
                ch.write(buf);
            }
            ch.force(true);
        } catch (IOException e) {
            Files.deleteIfExists(tmp);
            throw new IOException("write state record " + tmp + ": " + e.getMessage(), e);
        }
        Files.move(tmp, dir.resolve(key + SUFFIX), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        syncDir();
    }

    void delete(String key) throws IOException {
        if (Files.deleteIfExists(dir.resolve(key + SUFFIX))) {
            syncDir();
        }
    }

    record Entry(String key, byte[] content) {}

    List<Entry> readAll() throws IOException {
        List<Entry> out = new ArrayList<>();
        try (var entries = Files.list(dir)) {
            for (Path p : entries.sorted().toList()) {
                String name = p.getFileName().toString();
                if (name.endsWith(SUFFIX) && !name.startsWith(TMP)) {
                    out.add(new Entry(name.substring(0, name.length() - SUFFIX.length()), Files.readAllBytes(p)));
                }
            }
        }
        return out;
    }

    private void syncDir() throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }
}
