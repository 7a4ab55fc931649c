package io.efuse.csi.e2e.chart;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.LabelSelector;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import java.util.List;
import java.util.Map;
import tools.jackson.databind.ValueDeserializer;
import tools.jackson.databind.annotation.JsonDeserialize;

/**
 * The kinds the chart renders that the Fabric8 model served here does not carry (its volumesnapshot and
 * Prometheus operator extensions do not resolve at the client's version), typed after their published
 * schemas as far as the chart uses them. Parsed with unknown properties failing.
 */
final class ExtraKinds {

    private ExtraKinds() {
    }

    static Class<? extends HasMetadata> forKind(String apiVersion, String kind) {
        return switch (apiVersion + "/" + kind) {
            case "snapshot.storage.k8s.io/v1/VolumeSnapshotClass" -> VolumeSnapshotClass.class;
            case "snapshot.storage.k8s.io/v1/VolumeSnapshot" -> VolumeSnapshot.class;
            case "monitoring.coreos.com/v1/ServiceMonitor" -> ServiceMonitor.class;
            case "monitoring.coreos.com/v1/PodMonitor" -> PodMonitor.class;
            default -> throw new AssertionError("the chart renders " + apiVersion + " " + kind
                    + ", which neither the Fabric8 model nor ExtraKinds knows");
        };
    }

    /** Records are immutable: the setters HasMetadata asks for are never used by the tests. */
    interface ReadOnly extends HasMetadata {
        @Override
        default void setMetadata(ObjectMeta metadata) {
            throw new UnsupportedOperationException("read-only");
        }

        @Override
        default void setApiVersion(String version) {
            throw new UnsupportedOperationException("read-only");
        }
    }

    // the plain record deserializer, not the polymorphic one HasMetadata's annotation names
    @JsonDeserialize(using = ValueDeserializer.None.class)
    record VolumeSnapshotClass(String apiVersion, String kind, ObjectMeta metadata, String driver,
                               String deletionPolicy, Map<String, String> parameters) implements ReadOnly {
        @Override public ObjectMeta getMetadata() { return metadata; }
        @Override public String getApiVersion() { return apiVersion; }
        @Override public String getKind() { return kind; }
    }

    record VolumeSnapshotSource(String persistentVolumeClaimName, String volumeSnapshotContentName) {
    }

    record VolumeSnapshotSpec(String volumeSnapshotClassName, VolumeSnapshotSource source) {
    }

    // the plain record deserializer, not the polymorphic one HasMetadata's annotation names
    @JsonDeserialize(using = ValueDeserializer.None.class)
    record VolumeSnapshot(String apiVersion, String kind, ObjectMeta metadata, VolumeSnapshotSpec spec)
            implements ReadOnly {
        @Override public ObjectMeta getMetadata() { return metadata; }
        @Override public String getApiVersion() { return apiVersion; }
        @Override public String getKind() { return kind; }
    }

    record NamespaceSelector(Boolean any, List<String> matchNames) {
    }

    record Endpoint(String port, String path, String interval, String scheme) {
    }

    record ServiceMonitorSpec(LabelSelector selector, NamespaceSelector namespaceSelector, List<Endpoint> endpoints,
                              String jobLabel) {
    }

    // the plain record deserializer, not the polymorphic one HasMetadata's annotation names
    @JsonDeserialize(using = ValueDeserializer.None.class)
    record ServiceMonitor(String apiVersion, String kind, ObjectMeta metadata, ServiceMonitorSpec spec)
            implements ReadOnly {
        @Override public ObjectMeta getMetadata() { return metadata; }
        @Override public String getApiVersion() { return apiVersion; }
        @Override public String getKind() { return kind; }
    }

    record PodMonitorSpec(LabelSelector selector, NamespaceSelector namespaceSelector,
                          List<Endpoint> podMetricsEndpoints, String jobLabel) {
    }

    // the plain record deserializer, not the polymorphic one HasMetadata's annotation names
    @JsonDeserialize(using = ValueDeserializer.None.class)
    record PodMonitor(String apiVersion, String kind, ObjectMeta metadata, PodMonitorSpec spec) implements ReadOnly {
        @Override public ObjectMeta getMetadata() { return metadata; }
        @Override public String getApiVersion() { return apiVersion; }
        @Override public String getKind() { return kind; }
    }
}
