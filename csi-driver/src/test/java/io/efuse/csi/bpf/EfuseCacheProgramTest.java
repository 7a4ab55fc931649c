package io.efuse.csi.bpf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.efuse.csi.testing.RequiresBpf;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The cache program the jar carries (built against this machine's BTF with bpf/efuse_kernel.h): libbpf reads it,
 * and a kernel without the eFuse patch refuses it with a reason instead of failing later. On the eFuse kernel the
 * VM test (kernel/test/jvm-kernel-cache.sh) loads the same copy and checks its answers.
 */
@RequiresBpf
class EfuseCacheProgramTest {
    private static final String RESOURCE = "/bpf/efuse_cache.bpf.o";

    private static byte[] carried() throws Exception {
        try (InputStream in = EfuseCacheProgramTest.class.getResourceAsStream(RESOURCE)) {
            org.junit.jupiter.api.Assumptions.assumeTrue(in != null,
                    "skipped: the build has no eBPF objects (-Dbpf.skip)");
            return in.readAllBytes();
        }
    }

    @Test
    void theJarCarriesTheCacheProgramWithItsThreeCallbacksAndMaps() throws Exception {
        try (BpfObject object = BpfObject.open(Libbpf.system(), "efuse_cache", carried())) {
            List<String> programs = object.programs().stream().map(BpfProgram::name).sorted().toList();
            assertEquals(List.of("efuse_getattr", "efuse_lookup", "efuse_read"), programs);
            List<String> maps = object.maps().stream().map(BpfObject.ObjectMap::name).toList();
            for (String m : List.of(EfuseCacheProgram.STRUCT_OPS, "efuse_gen", "efuse_entries", "efuse_attrs",
                    "efuse_data", "efuse_counters")) {
                assertTrue(maps.contains(m), "map " + m + " in " + maps);
            }
        }
    }

    @Test
    void aKernelWithoutTheEfusePatchRefusesItWithAReason() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeFalse(hasEfuseOps(),
                "skipped: this kernel has struct efuse_ops (the eFuse kernel); the VM test loads the program there");
        BpfException e = assertThrows(BpfException.class,
                () -> EfuseCacheProgram.load(Libbpf.system(), carried()).close());
        assertTrue(e.getMessage() != null && !e.getMessage().isBlank(), "a reason: " + e);
    }

    private static boolean hasEfuseOps() throws Exception {
        byte[] btf = Files.readAllBytes(Path.of("/sys/kernel/btf/vmlinux"));
        return new String(btf, java.nio.charset.StandardCharsets.ISO_8859_1).contains("\0efuse_ops\0");
    }
}
