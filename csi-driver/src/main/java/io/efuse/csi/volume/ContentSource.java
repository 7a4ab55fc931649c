package io.efuse.csi.volume;

/** What a new volume starts with: a snapshot's data or a copy of another volume (a clone). */
public record ContentSource(Kind kind, String id) {
    public enum Kind { SNAPSHOT, VOLUME }

    public ContentSource {
        if (kind == null || id == null) {
            throw new IllegalArgumentException("a content source needs a kind and an id");
        }
    }
}
