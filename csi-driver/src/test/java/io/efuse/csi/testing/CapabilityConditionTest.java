package io.efuse.csi.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.annotation.Annotation;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;

class CapabilityConditionTest {
    @RequiresFuse
    static final class NeedsFuse {}

    @RequiresRoot
    static final class NeedsRoot {
        @RequiresBpf
        void needsBpfToo() {}
    }

    static final class NeedsNothing {}

    private static CapabilityCondition with(Class<? extends Annotation> missing, String reason) {
        Supplier<Optional<String>> there = Optional::empty;
        Map<Class<? extends Annotation>, Supplier<Optional<String>>> checks = new java.util.HashMap<>(Map.of(
                RequiresRoot.class, there, RequiresFuse.class, there, RequiresBpf.class, there));
        checks.put(missing, () -> Optional.of(reason));
        return new CapabilityCondition(checks);
    }

    @Test
    void aClassIsSkippedWithTheReasonOfWhatItNeedsAndLacks() {
        ConditionEvaluationResult r = with(RequiresFuse.class, "/dev/fuse is missing").evaluate(NeedsFuse.class);
        assertTrue(r.isDisabled());
        assertEquals(Optional.of("skipped: /dev/fuse is missing"), r.getReason());
    }

    @Test
    void onlyWhatIsAnnotatedIsChecked() {
        assertFalse(with(RequiresBpf.class, "no BTF").evaluate(NeedsFuse.class).isDisabled());
        assertFalse(with(RequiresRoot.class, "not root").evaluate(NeedsNothing.class).isDisabled());
    }

    @Test
    void aMethodIsCheckedForItsOwnAnnotation() throws Exception {
        var method = NeedsRoot.class.getDeclaredMethod("needsBpfToo");
        assertTrue(with(RequiresBpf.class, "no BTF").evaluate(method).isDisabled());
        assertFalse(with(RequiresRoot.class, "not root").evaluate(method).isDisabled(),
                "the class's annotation is evaluated for the class, before its methods");
    }

    @Test
    void rootIsTheEffectiveUidAsTheKernelReportsIt() throws Exception {
        // /proc/self/status "Uid:" lists real, effective, saved and filesystem uids
        String uids = Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith("Uid:"))
                .findFirst().orElseThrow();
        boolean effectiveRoot = uids.split("\\s+")[2].equals("0");
        assertEquals(effectiveRoot, Capabilities.missingForRoot().isEmpty(), uids);
    }

    @Test
    void aMissingRootSaysWhichUidTheProcessHas() {
        assertEquals(Optional.of("needs root, effective uid is 65534"), Capabilities.rootMissing(65534, "needs root"));
        assertEquals(Optional.empty(), Capabilities.rootMissing(0, "needs root"));
    }

    @Test
    void fuseIsThereWhenRootHasDevFuse() {
        boolean expected = Capabilities.missingForRoot().isEmpty() && Files.exists(Capabilities.DEV_FUSE);
        assertEquals(expected, Capabilities.missingForFuse().isEmpty(), Capabilities.missingForFuse().orElse(""));
    }
}
