package io.efuse.csi.fs;

import java.nio.file.Path;

/** Operations run in an empty directory, recording what they see; run once natively, once on eFuse. */
@FunctionalInterface
interface Scenario {
    void run(Path dir, Observations seen) throws Exception;
}
