package io.efuse.csi.fs;

import java.util.ArrayList;
import java.util.List;

/** What a scenario saw, step by step, as "label: value" lines: two runs compare as two texts. */
final class Observations {
    private final List<String> lines = new ArrayList<>();

    Observations add(String label, Object value) {
        lines.add(label + ": " + value);
        return this;
    }

    List<String> lines() {
        return lines;
    }

    @Override
    public String toString() {
        return String.join("\n", lines);
    }
}
