package io.efuse.csi.metrics;

import java.util.List;

/** Checks label sets against a family's label names. */
final class Labels {

    private Labels() {
    }

    static List<String> check(String family, List<String> names, String... values) {
        if (values.length != names.size()) {
            throw new IllegalArgumentException(family + " takes labels " + names + ", got " + values.length
                    + " values");
        }
        return List.of(values);
    }
}
