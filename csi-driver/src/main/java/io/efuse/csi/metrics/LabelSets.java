package io.efuse.csi.metrics;

import java.util.List;

/** A metric sample's label values, checked against its family's label names. */
final class LabelSets {

    private LabelSets() {
    }

    static List<String> check(String family, List<String> names, String... values) {
        if (values.length != names.size()) {
            throw new IllegalArgumentException(family + " takes labels " + names + ", got " + values.length
                    + " values");
        }
        return List.of(values);
    }
}
