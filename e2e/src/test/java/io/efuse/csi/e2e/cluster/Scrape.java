package io.efuse.csi.e2e.cluster;

import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A Prometheus text page read through the API server's proxy to a pod's port, as a Prometheus in the cluster (or
 * an operator with kubectl) would reach it: the pod network, not the node's loopback.
 */
final class Scrape {

    record Sample(String name, Map<String, String> labels, double value) {
    }

    final String text;
    final List<Sample> samples;

    private Scrape(String text) {
        this.text = text;
        this.samples = parse(text);
    }

    static Scrape pod(KubernetesClient kube, String ns, String pod, int port) {
        String text = kube.raw("/api/v1/namespaces/" + ns + "/pods/" + pod + ":" + port + "/proxy/metrics");
        if (text == null) {
            throw new IllegalStateException("no answer from " + ns + "/" + pod + ":" + port + "/metrics through the API server proxy");
        }
        return new Scrape(text);
    }

    List<Sample> series(String name) {
        return samples.stream().filter(s -> s.name.equals(name)).toList();
    }

    List<Sample> series(String name, String label, String value) {
        return series(name).stream().filter(s -> value.equals(s.labels.get(label))).toList();
    }

    private static List<Sample> parse(String text) {
        List<Sample> out = new ArrayList<>();
        for (String line : text.split("\n")) {
            line = line.strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            int brace = line.indexOf('{');
            int space;
            String name;
            Map<String, String> labels = new LinkedHashMap<>();
            if (brace >= 0 && brace < line.indexOf(' ')) {
                name = line.substring(0, brace);
                int end = parseLabels(line, brace + 1, labels);
                space = end + 1;
            } else {
                space = line.indexOf(' ');
                name = line.substring(0, space);
            }
            String[] rest = line.substring(space).strip().split("\\s+");
            out.add(new Sample(name, labels, parseValue(rest[0])));
        }
        return out;
    }

    /** Reads name="value" pairs (with \\, \" and \n escapes) from i; returns the index of the closing brace. */
    private static int parseLabels(String line, int i, Map<String, String> labels) {
        while (i < line.length() && line.charAt(i) != '}') {
            int eq = line.indexOf('=', i);
            String key = line.substring(i, eq).strip();
            StringBuilder value = new StringBuilder();
            int j = eq + 2; // past ="
            while (line.charAt(j) != '"') {
                char c = line.charAt(j);
                if (c == '\\') {
                    char n = line.charAt(++j);
                    value.append(n == 'n' ? '\n' : n);
                } else {
                    value.append(c);
                }
                j++;
            }
            labels.put(key, value.toString());
            i = j + 1;
            if (i < line.length() && line.charAt(i) == ',') {
                i++;
            }
        }
        return i;
    }

    private static double parseValue(String v) {
        return switch (v) {
            case "+Inf" -> Double.POSITIVE_INFINITY;
            case "-Inf" -> Double.NEGATIVE_INFINITY;
            case "NaN" -> Double.NaN;
            default -> Double.parseDouble(v);
        };
    }
}
