package io.efuse.csi.e2e.chart;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.KubernetesResource;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.Collection;
import java.util.Map;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.dataformat.yaml.YAMLMapper;

/**
 * Parses one rendered object into its Fabric8 model class and rejects every field the model does not know.
 * Fabric8's classes keep unknown fields in additionalProperties instead of failing, so the whole object graph
 * is walked and any non-empty additionalProperties is an error naming the field's path. The few kinds the
 * Fabric8 model served here lacks (snapshot and Prometheus operator kinds) parse into {@link ExtraKinds} records
 * with unknown properties failing.
 */
final class StrictModel {

    private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();
    private static final ObjectMapper STRICT_YAML = YAMLMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .build();

    private StrictModel() {
    }

    static HasMetadata parse(String yamlDocument) {
        KubernetesResource parsed = SERIALIZATION.unmarshal(yamlDocument, KubernetesResource.class);
        if (parsed instanceof GenericKubernetesResource generic) {
            Class<? extends HasMetadata> type = ExtraKinds.forKind(generic.getApiVersion(), generic.getKind());
            try {
                HasMetadata typed = STRICT_YAML.readValue(yamlDocument, type);
                rejectUnknownFields(typed, generic.getKind());
                return typed;
            } catch (JacksonException e) {
                throw new AssertionError(generic.getKind() + "/" + generic.getMetadata().getName()
                        + " does not parse strictly: " + e.getMessage(), e);
            }
        }
        if (!(parsed instanceof HasMetadata object)) {
            throw new AssertionError("not a Kubernetes object: " + parsed.getClass() + "\n" + yamlDocument);
        }
        rejectUnknownFields(object, object.getKind() + "/" + object.getMetadata().getName());
        return object;
    }

    static void rejectUnknownFields(Object node, String path) {
        if (node == null || node instanceof String || node instanceof Number || node instanceof Boolean
                || node instanceof Enum<?> || node.getClass().isPrimitive()) {
            return;
        }
        if (node instanceof Map<?, ?> map) {
            map.forEach((k, v) -> rejectUnknownFields(v, path + "[" + k + "]"));
            return;
        }
        if (node instanceof Collection<?> items) {
            int i = 0;
            for (Object item : items) {
                rejectUnknownFields(item, path + "[" + i++ + "]");
            }
            return;
        }
        String pkg = node.getClass().getPackageName();
        if (!pkg.startsWith("io.fabric8") && !pkg.startsWith("io.efuse")) {
            return;
        }
        for (Method m : node.getClass().getMethods()) {
            // default methods (HasMetadata's getPlural, getFullResourceName…) compute, they hold no field
            if (m.getParameterCount() != 0 || Modifier.isStatic(m.getModifiers()) || m.isDefault()
                    || m.getDeclaringClass() == Object.class || m.getDeclaringClass().isRecord() && isRecordInfra(m)) {
                continue;
            }
            String name = m.getName();
            boolean getter = name.startsWith("get") && name.length() > 3 || node.getClass().isRecord() && isComponent(node, m);
            if (!getter || m.getReturnType().isPrimitive()) {
                continue;
            }
            Object value = invoke(m, node, path);
            if (name.equals("getAdditionalProperties")) {
                if (value instanceof Map<?, ?> extra && !extra.isEmpty()) {
                    throw new AssertionError("unknown field(s) " + extra.keySet() + " at " + path + " (" + node.getClass().getName() + ")");
                }
                continue;
            }
            rejectUnknownFields(value, path + "." + propertyName(name));
        }
    }

    private static boolean isRecordInfra(Method m) {
        return m.getName().equals("hashCode") || m.getName().equals("toString");
    }

    private static boolean isComponent(Object record, Method m) {
        for (var c : record.getClass().getRecordComponents()) {
            if (c.getAccessor().equals(m)) {
                return true;
            }
        }
        return false;
    }

    private static Object invoke(Method m, Object target, String path) {
        try {
            return m.invoke(target);
        } catch (IllegalAccessException | InvocationTargetException e) {
            throw new IllegalStateException("cannot read " + path + "." + m.getName(), e);
        }
    }

    private static String propertyName(String getter) {
        if (!getter.startsWith("get")) {
            return getter;
        }
        String p = getter.substring(3);
        return Character.toLowerCase(p.charAt(0)) + p.substring(1);
    }
}
