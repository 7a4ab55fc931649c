package io.efuse.csi.fs;

import org.junit.jupiter.api.extension.RegisterExtension;

/** File contents through eFuse mounts with default options, compared with native. */
class FileDataComparisonTest extends FileDataScenarios {
    @RegisterExtension
    static final ComparedVolumes volumes = new ComparedVolumes();

    @Override
    ComparedVolumes volumes() {
        return volumes;
    }
}
