package io.efuse.csi.e2e.chart;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import org.junit.jupiter.api.Test;

class StrictModelTest {

    private static final String DAEMONSET = """
            apiVersion: apps/v1
            kind: DaemonSet
            metadata: {name: n}
            spec:
              selector: {matchLabels: {a: b}}
              template:
                metadata: {labels: {a: b}}
                spec:
                  containers:
                    - name: c
                      image: i
                      volumeMounts:
                        - {name: v, mountPath: /x, %s: Bidirectional}
            """;

    @Test
    void knownFieldsParseIntoTheModelClass() {
        var parsed = StrictModel.parse(DAEMONSET.formatted("mountPropagation"));
        DaemonSet ds = assertInstanceOf(parsed);
        assertEquals("Bidirectional", ds.getSpec().getTemplate().getSpec().getContainers().getFirst()
                .getVolumeMounts().getFirst().getMountPropagation());
    }

    @Test
    void aMisspelledNestedFieldIsRejectedWithItsPath() {
        AssertionError e = assertThrows(AssertionError.class,
                () -> StrictModel.parse(DAEMONSET.formatted("mountPropgation")));
        assertTrue(e.getMessage().contains("mountPropgation"), e.getMessage());
        assertTrue(e.getMessage().contains("DaemonSet/n.spec.template.spec.containers[0].volumeMounts[0]"), e.getMessage());
    }

    @Test
    void extraKindsRejectUnknownFieldsToo() {
        String vsc = "apiVersion: snapshot.storage.k8s.io/v1\nkind: VolumeSnapshotClass\nmetadata: {name: s}\n"
                + "driver: efuse.csi.io\ndeletionPolicy: Delete\n";
        assertEquals("efuse.csi.io", ((ExtraKinds.VolumeSnapshotClass) StrictModel.parse(vsc)).driver());
        assertThrows(AssertionError.class, () -> StrictModel.parse(vsc + "deletionPolice: Retain\n"));
        assertThrows(AssertionError.class, () -> StrictModel.parse(vsc.replace("metadata: {name: s}",
                "metadata: {name: s, labelz: {a: b}}")));
    }

    @Test
    void aKindNoModelKnowsIsRejected() {
        assertThrows(AssertionError.class,
                () -> StrictModel.parse("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n"));
    }

    private static DaemonSet assertInstanceOf(Object o) {
        assertTrue(o instanceof DaemonSet, () -> "parsed into " + o.getClass());
        return (DaemonSet) o;
    }
}
