package io.efuse.csi.volume;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What CreateVolume asks for once the CSI layer has validated it. {@code capacityBytes} is the size chosen inside
 * [requiredBytes, limitBytes]; {@code allowedNodes} (empty: any) and {@code preferredNodes} come from the
 * accessibility requirements and only matter for {@link Backend#LOCAL}.
 */
public record VolumeSpec(String name, long requiredBytes, long limitBytes, long capacityBytes, long inodeLimit,
                         Backend backend, List<String> allowedNodes, List<String> preferredNodes,
                         ContentSource source, Map<String, String> parameters, Map<String, String> mutableParameters) {

    public VolumeSpec {
        allowedNodes = List.copyOf(allowedNodes == null ? List.of() : allowedNodes);
        preferredNodes = List.copyOf(preferredNodes == null ? List.of() : preferredNodes);
        parameters = Map.copyOf(parameters == null ? Map.of() : parameters);
        mutableParameters = Map.copyOf(mutableParameters == null ? Map.of() : mutableParameters);
    }

    public String id() {
        return VolumeIds.volumeId(name);
    }

    /** Why an existing volume of the same name does not satisfy this request, if it does not. */
    public Optional<String> incompatibility(Volume existing) {
        if (existing.capacityBytes() < requiredBytes) {
            return Optional.of("volume '" + name + "' exists with " + existing.capacityBytes()
                    + " bytes, less than the " + requiredBytes + " required");
        }
        if (limitBytes > 0 && existing.capacityBytes() > limitBytes) {
            return Optional.of("volume '" + name + "' exists with " + existing.capacityBytes()
                    + " bytes, more than the limit of " + limitBytes);
        }
        if (existing.backend() != backend) {
            return Optional.of("volume '" + name + "' exists on the " + existing.backend().label() + " backend");
        }
        if (!existing.parameters().equals(parameters)) {
            return Optional.of("volume '" + name + "' exists with other parameters " + existing.parameters());
        }
        if (!java.util.Objects.equals(existing.source(), source)) {
            return Optional.of("volume '" + name + "' exists with another content source");
        }
        if (backend == Backend.LOCAL && !allowedNodes.isEmpty() && !allowedNodes.contains(existing.node())) {
            return Optional.of("volume '" + name + "' exists on node " + existing.node()
                    + ", outside the requested topology");
        }
        return Optional.empty();
    }
}
