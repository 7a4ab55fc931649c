package io.efuse.csi.e2e.chart;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.TemplateCommand;
import io.fabric8.kubernetes.api.model.HasMetadata;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;
import java.util.regex.Pattern;

/** The chart rendered with one set of values (helm template, as helm install would), parsed strictly. */
final class RenderedChart {

    static final String RELEASE = "efuse-csi";
    static final String NAMESPACE = "efuse-csi";
    private static final Pattern DOCUMENT_SEPARATOR = Pattern.compile("(?m)^---\\s*$");

    final String yaml;
    final List<HasMetadata> objects;

    private RenderedChart(String yaml, List<HasMetadata> objects) {
        this.yaml = yaml;
        this.objects = objects;
    }

    static Path repo() {
        return Path.of(System.getProperty("efuse.repo", "..")).toAbsolutePath().normalize();
    }

    static Path chart() {
        return repo().resolve("charts/efuse-csi");
    }

    /** The chart's CRD files (generated from the driver's Java types), in a stable order; none before they exist. */
    static List<Path> crds() throws java.io.IOException {
        Path dir = chart().resolve("crds");
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (var files = Files.list(dir)) {
            return files.filter(p -> p.toString().endsWith(".yml") || p.toString().endsWith(".yaml")).sorted().toList();
        }
    }

    /** Renders with an optional values file from src/test/resources/values and --set pairs. */
    static RenderedChart render(String valuesFile, Map<String, Object> sets) {
        TemplateCommand template = new Helm(chart()).template()
                .withName(RELEASE).withNamespace(NAMESPACE).withKubeVersion("1.33.0");
        if (valuesFile != null) {
            Path values = Path.of("src/test/resources/values", valuesFile).toAbsolutePath();
            if (!Files.isRegularFile(values)) {
                throw new IllegalArgumentException("values file missing: " + values);
            }
            template = template.withValuesFile(values);
        }
        for (Map.Entry<String, Object> e : sets.entrySet()) {
            template = template.set(e.getKey(), e.getValue());
        }
        return parse(template.call());
    }

    static RenderedChart parse(String yaml) {
        List<HasMetadata> objects = new ArrayList<>();
        for (String document : DOCUMENT_SEPARATOR.split(yaml)) {
            if (document.lines().allMatch(l -> l.isBlank() || l.stripLeading().startsWith("#"))) {
                continue;
            }
            objects.add(StrictModel.parse(document));
        }
        return new RenderedChart(yaml, List.copyOf(objects));
    }

    <T extends HasMetadata> List<T> all(Class<T> type) {
        return objects.stream().filter(type::isInstance).map(type::cast).toList();
    }

    <T extends HasMetadata> T one(Class<T> type, String name) {
        return find(type, o -> o.getMetadata().getName().equals(name))
                .orElseThrow(() -> new AssertionError("no " + type.getSimpleName() + " named " + name
                        + " in " + objects.stream().map(o -> o.getKind() + "/" + o.getMetadata().getName()).toList()));
    }

    <T extends HasMetadata> Optional<T> find(Class<T> type, Predicate<T> test) {
        return all(type).stream().filter(test).findFirst();
    }
}
