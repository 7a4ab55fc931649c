package io.efuse.csi.e2e.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;

/** A claim of the local StorageClass used as a user would: fio with verification, df, its limit, a second pod. */
@ClusterTest
@Order(2)
class ClaimTest {

    private static final long SIZE = 128L << 20;

    private Workloads w;

    @BeforeAll
    void claimAndPod() {
        w = Workloads.namespace(DriverRelease.require().kube, "e2e-claim");
        w.claim("data", Workloads.LOCAL, "128Mi", "ReadWriteOnce");
        w.sleeper("writer", "data");
        w.awaitRunning("writer");
    }

    @AfterAll
    void cleanUp() {
        if (w != null) {
            w.delete();
        }
    }

    @Test
    @Order(1)
    void fioWritesAndVerifiesItsDataOnTheClaim() {
        var fio = w.exec("writer", "fio --name=verify --directory=/data --rw=randwrite --bs=4k --size=32m"
                + " --ioengine=psync --verify=crc32c --verify_fatal=1 --do_verify=1 --numjobs=2 --group_reporting");
        System.out.println(fio.out());
        assertEquals(0, fio.exitCode(), "fio's exit status:\n" + fio.out() + fio.err());
        assertTrue(fio.out().contains("err= 0"), "fio reports no error:\n" + fio.out());
        assertTrue(!fio.out().contains("verify: bad") && !fio.err().contains("verify: bad"), "fio verified its data");
        w.exec("writer", "rm -f /data/verify.*").orFail("removing fio's files");
    }

    @Test
    @Order(2)
    void dfInThePodShowsTheClaimsSize() {
        long df = w.dfBytes("writer", "/data");
        System.out.println("df of a 128Mi claim: " + df + " bytes");
        assertEquals(SIZE, df, "df shows the claim's size, not the node's disk");
    }

    @Test
    @Order(3)
    void writingPastTheSizeFailsWithAQuotaOrSpaceError() {
        var fill = w.exec("writer", "dd if=/dev/zero of=/data/fill bs=1M count=192 conv=fsync");
        System.out.println("dd past the size: exit " + fill.exitCode() + ": " + fill.err().strip());
        assertNotEquals(0, fill.exitCode(), "a write past the claim's size fails");
        assertTrue(fill.err().contains("Disk quota exceeded") || fill.err().contains("No space left on device"),
                "the error is EDQUOT or ENOSPC: " + fill.err());
        var size = w.exec("writer", "stat -c %s /data/fill").orFail("stat of the filled file");
        assertTrue(Long.parseLong(size.out().strip()) <= SIZE, "no more than the size was written: " + size.out());
        // space freed is usable again
        w.exec("writer", "rm /data/fill && dd if=/dev/zero of=/data/after bs=1M count=8 conv=fsync && rm /data/after")
                .orFail("writing again after freeing the space");
    }

    @Test
    @Order(4)
    void aNewPodSeesTheDataTheFirstOneWrote() {
        String sums = w.exec("writer", "mkdir -p /data/keep && head -c 8388608 /dev/urandom > /data/keep/random"
                + " && echo hello > /data/keep/small && sync && cd /data/keep && sha256sum random small")
                .orFail("writing the files to keep").out();
        w.deletePod("writer");
        w.sleeper("reader", "data");
        w.awaitRunning("reader");
        String again = w.exec("reader", "cd /data/keep && sha256sum random small").orFail("reading the kept files").out();
        assertEquals(sums, again, "the second pod reads what the first wrote");
    }
}
