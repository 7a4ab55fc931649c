package io.efuse.csi.testing;

import java.lang.annotation.Annotation;
import java.lang.reflect.AnnotatedElement;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.platform.commons.support.AnnotationSupport;

/**
 * Runs a class or test only where what its {@link RequiresRoot}, {@link RequiresFuse} and {@link RequiresBpf}
 * ask for is there. Evaluated before the class is set up, so a fixture never half-starts on a machine that
 * cannot run it.
 */
public final class CapabilityCondition implements ExecutionCondition {
    private final Map<Class<? extends Annotation>, Supplier<Optional<String>>> checks;

    public CapabilityCondition() {
        this(Map.of(
                RequiresRoot.class, Capabilities::missingForRoot,
                RequiresFuse.class, Capabilities::missingForFuse,
                RequiresBpf.class, Capabilities::missingForBpf));
    }

    /** @param checks for each annotation, what is missing for it on this machine */
    CapabilityCondition(Map<Class<? extends Annotation>, Supplier<Optional<String>>> checks) {
        this.checks = checks;
    }

    @Override
    public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
        Optional<AnnotatedElement> element = context.getElement();
        if (element.isEmpty()) {
            return ConditionEvaluationResult.enabled("nothing annotated");
        }
        return evaluate(element.get());
    }

    ConditionEvaluationResult evaluate(AnnotatedElement element) {
        for (var check : checks.entrySet()) {
            if (AnnotationSupport.isAnnotated(element, check.getKey())) {
                Optional<String> missing = check.getValue().get();
                if (missing.isPresent()) {
                    return ConditionEvaluationResult.disabled("skipped: " + missing.get());
                }
            }
        }
        return ConditionEvaluationResult.enabled("the machine has what the test needs");
    }
}
