package io.efuse.csi.e2e.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.fabric8.kubernetes.api.model.storage.StorageClassBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;

/**
 * A VolumeGroupSnapshot of two claims that one writer appends numbered records to in turn (even numbers to one,
 * odd to the other, each append finished before the next begins), taken while it writes. Restored, the two members
 * must hold every record up to the last one either holds: a group taken at more than one instant would show a
 * later record in one member while the other misses an earlier one.
 */
@ClusterTest
@Order(6)
class GroupSnapshotTest {
    static final String GROUP_API = "groupsnapshot.storage.k8s.io/v1beta1";
    private static final String SC = "e2e-group-image";

    private KubernetesClient kube;
    private Workloads w;

    @Test
    void aGroupSnapshotRestoresOneInstantOfAWriterAcrossTwoClaims() {
        kube = DriverRelease.require().kube;
        // image volumes: their own filesystems, frozen together, so writers keep the passthrough path
        kube.storage().v1().storageClasses().resource(new StorageClassBuilder().withNewMetadata().withName(SC)
                .endMetadata().withProvisioner(DriverRelease.DRIVER).withVolumeBindingMode("WaitForFirstConsumer")
                .withReclaimPolicy("Delete").withParameters(Map.of("engine", "image")).build())
                .createOr(r -> r.update());
        w = Workloads.namespace(kube, "e2e-group");
        for (String claim : List.of("data", "log")) {
            w.claim(claim, SC, "320Mi", "ReadWriteOnce");
            w.claimResource(claim).edit(c -> {
                c.getMetadata().setLabels(Map.of("app", "db"));
                return c;
            });
        }
        w.sleeper("db", "data", "log");
        w.awaitRunning("db", Duration.ofMinutes(3));
        w.exec("db", "nohup sh -c 'n=0; while :; do if [ $((n % 2)) = 0 ]; then echo $n >> /data/records;"
                + " else echo $n >> /data2/records; fi; n=$((n + 1)); done' >/dev/null 2>&1 &")
                .orFail("starting the writer");
        Wait.until("the writer's first thousand records", Duration.ofMinutes(1),
                () -> w.exec("db", "cat /data/records 2>/dev/null | wc -l").out().strip(),
                n -> !n.isEmpty() && Long.parseLong(n) > 500);

        var groups = kube.genericKubernetesResources(GROUP_API, "VolumeGroupSnapshot").inNamespace(w.ns);
        GenericKubernetesResource group = new GenericKubernetesResourceBuilder().withApiVersion(GROUP_API)
                .withKind("VolumeGroupSnapshot").withNewMetadata().withName("cut").withNamespace(w.ns).endMetadata()
                .withAdditionalProperties(Map.of("spec", Map.of("volumeGroupSnapshotClassName", "efuse-group-snapshot",
                        "source", Map.of("selector", Map.of("matchLabels", Map.of("app", "db"))))))
                .build();
        long start = System.nanoTime();
        groups.resource(group).create();
        Wait.until("VolumeGroupSnapshot cut to be ready to use", Duration.ofMinutes(4), () -> groups.withName("cut").get(),
                g -> g.getAdditionalProperties().get("status") instanceof Map<?, ?> st
                        && Boolean.TRUE.equals(st.get("readyToUse")),
                g -> "status " + g.getAdditionalProperties().get("status") + "; events: "
                        + Diagnostics.eventsOf(kube, w.ns, "cut"));
        System.out.printf("TIMING VolumeGroupSnapshot -> readyToUse: %.1f s%n", (System.nanoTime() - start) / 1e9);
        long writtenAfter = Long.parseLong(w.exec("db", "cat /data/records /data2/records | wc -l").out().strip());
        w.exec("db", "pkill -f 'records' || true");

        var snapshots = kube.genericKubernetesResources(SnapshotAndCloneTest.SNAPSHOT_API, "VolumeSnapshot")
                .inNamespace(w.ns);
        List<String> members = Wait.until("the group's two member VolumeSnapshots, ready", Duration.ofMinutes(2),
                () -> snapshots.list().getItems().stream().filter(s -> s.getMetadata().getOwnerReferences().stream()
                        .anyMatch(o -> o.getKind().equals("VolumeGroupSnapshot") && o.getName().equals("cut")))
                        .filter(s -> s.getAdditionalProperties().get("status") instanceof Map<?, ?> st
                                && Boolean.TRUE.equals(st.get("readyToUse")))
                        .map(s -> s.getMetadata().getName()).toList(),
                l -> l.size() == 2);
        List<String> restored = new ArrayList<>();
        for (int i = 0; i < members.size(); i++) {
            w.claimFrom("restored-" + i, "320Mi", "VolumeSnapshot", members.get(i));
            restored.add("restored-" + i);
        }
        w.sleeper("check", restored.toArray(String[]::new));
        w.awaitRunning("check", Duration.ofMinutes(3));
        String text = w.exec("check", "cat /data/records /data2/records").orFail("reading the restored members").out();
        TreeSet<Long> records = new TreeSet<>();
        for (String line : text.split("\n")) {
            if (!line.isBlank()) {
                records.add(Long.parseLong(line.strip()));
            }
        }
        long cut = records.isEmpty() ? -1 : records.last();
        System.out.println("group cut at record " + cut + " of " + writtenAfter + " written by then");
        assertTrue(cut > 500, "the group holds what was written before it: " + cut);
        assertTrue(cut < writtenAfter - 1, "the writer went on after the group, so the cut is mid-stream");
        for (long n = 0; n <= cut; n++) {
            assertTrue(records.contains(n), "record " + n + " is missing while record " + cut
                    + " is in the group: its members were taken at different instants");
        }
        assertEquals(cut + 1, records.size(), "no record past the cut, none twice");
    }

    @AfterAll
    void cleanUp() {
        if (w != null) {
            w.delete();
        }
        if (kube != null) {
            kube.storage().v1().storageClasses().withName(SC).delete();
        }
    }
}
