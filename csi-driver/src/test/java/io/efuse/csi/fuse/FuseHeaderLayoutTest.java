package io.efuse.csi.fuse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.efuse.csi.testing.CProgram;
import io.efuse.csi.testing.ProcessRunner;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every struct layout, opcode and protocol constant the daemon uses equals what the kernel's FUSE
 * header says: a C program generated from the Java constants (by reflection) prints sizeof/offsetof
 * and the constants' values as gcc computes them from the newest header available — sid's or
 * trixie's linux-libc-dev (unpacked by .ci/fetch-kernel-headers), else the system's.
 *
 * <p>Naming: nested class {@code FuseStructs.EntryOut} is {@code struct fuse_entry_out}; constant
 * {@code ATTR_VALID} is field {@code attr_valid}; {@code SIZE} is sizeof, a trailing underscore
 * ({@code SIZE_}) marks a field whose name would clash ({@code size}), and {@code COMPAT_SIZE} is the
 * header's {@code FUSE_COMPAT_<STRUCT>_SIZE}.
 */
class FuseHeaderLayoutTest {
    /** FuseAbi constants that are the daemon's own choices, not the header's. */
    private static final Set<String> OWN_CONSTANTS = Set.of("MAX_MINOR", "MAX_PAGES_PER_REQUEST", "MAX_WRITE",
            "MIN_READ_BUFFER");

    private static Path header;
    private static int headerMinor;
    private static final Map<String, Long> javaValues = new LinkedHashMap<>();
    private static final Map<String, Long> headerValues = new LinkedHashMap<>();

    static Path newestHeader() {
        Path repo = CProgram.moduleDir().getParent();
        for (String suite : new String[] {"sid", "trixie"}) {
            Path p = repo.resolve("target/kernel-headers").resolve(suite).resolve("usr/include/linux/fuse.h");
            if (Files.isRegularFile(p)) {
                return p;
            }
        }
        return Path.of("/usr/include/linux/fuse.h");
    }

    static String snake(String camel) {
        return camel.replaceAll("([a-z0-9])([A-Z])", "$1_$2").toLowerCase();
    }

    private static String abiName(String javaName) {
        return javaName.startsWith("FOPEN_") || javaName.startsWith("FATTR_") ? javaName : "FUSE_" + javaName;
    }

    @BeforeAll
    static void compileAndRun() throws Exception {
        header = newestHeader();
        assertTrue(Files.isRegularFile(header), "no FUSE header: run .ci/fetch-kernel-headers or install linux-libc-dev");
        Matcher m = Pattern.compile("#define FUSE_KERNEL_MINOR_VERSION (\\d+)").matcher(Files.readString(header));
        assertTrue(m.find(), "no FUSE_KERNEL_MINOR_VERSION in " + header);
        headerMinor = Integer.parseInt(m.group(1));
        assertTrue(headerMinor >= FuseAbi.MAX_MINOR, header + " is FUSE 7." + headerMinor + ", older than the 7."
                + FuseAbi.MAX_MINOR + " the daemon speaks: run .ci/fetch-kernel-headers");

        List<String> probes = new ArrayList<>();
        for (Class<?> c : FuseStructs.class.getDeclaredClasses()) {
            String struct = "struct fuse_" + snake(c.getSimpleName());
            for (Field f : constants(c)) {
                String key = c.getSimpleName() + "." + f.getName();
                javaValues.put(key, f.getLong(null));
                String expr = switch (f.getName()) {
                    case "SIZE" -> "sizeof(" + struct + ")";
                    case "COMPAT_SIZE" -> "FUSE_COMPAT_" + snake(c.getSimpleName()).toUpperCase() + "_SIZE";
                    default -> "offsetof(" + struct + ", " + f.getName().toLowerCase().replaceAll("_$", "") + ")";
                };
                probes.add(probe(key, expr));
            }
        }
        for (Field f : constants(FuseOpcode.class)) {
            if (!f.getName().equals("LIMIT")) {
                javaValues.put("FuseOpcode." + f.getName(), f.getLong(null));
                probes.add(probe("FuseOpcode." + f.getName(), "FUSE_" + f.getName()));
            }
        }
        for (Field f : constants(FuseAbi.class)) {
            if (!OWN_CONSTANTS.contains(f.getName())) {
                javaValues.put("FuseAbi." + f.getName(), f.getLong(null));
                probes.add(probe("FuseAbi." + f.getName(), abiName(f.getName())));
            }
        }
        String source = "#include <stddef.h>\n#include <stdio.h>\n#include <sys/ioctl.h>\n#include \"" + header
                + "\"\nint main(void) {\n" + String.join("\n", probes) + "\n return 0;\n}\n";
        Path c = CProgram.moduleDir().resolve("target/test-c/fuse_layout.c");
        Files.createDirectories(c.getParent());
        Files.writeString(c, source);
        Path exe = CProgram.compile("fuse_layout", c, List.of());
        ProcessRunner.Result r = ProcessRunner.run(List.of(exe.toString()), Duration.ofSeconds(30));
        assertEquals(0, r.exit(), r.output());
        for (String line : r.output().split("\n")) {
            String[] kv = line.split(" ");
            headerValues.put(kv[0], Long.parseUnsignedLong(kv[1]));
        }
    }

    private static String probe(String key, String expr) {
        return " printf(\"%s %llu\\n\", \"" + key + "\", (unsigned long long) (" + expr + "));";
    }

    private static List<Field> constants(Class<?> c) {
        List<Field> out = new ArrayList<>();
        for (Field f : c.getDeclaredFields()) {
            int mod = f.getModifiers();
            if (Modifier.isPublic(mod) && Modifier.isStatic(mod) && Modifier.isFinal(mod)
                    && (f.getType() == int.class || f.getType() == long.class)) {
                out.add(f);
            }
        }
        return out;
    }

    @Test
    void everyStructSizeAndFieldOffsetMatchesTheHeader() {
        List<String> wrong = new ArrayList<>();
        int checked = 0;
        for (var e : javaValues.entrySet()) {
            if (e.getKey().startsWith("FuseOpcode.") || e.getKey().startsWith("FuseAbi.")) {
                continue;
            }
            checked++;
            long h = headerValues.get(e.getKey());
            if (h != e.getValue()) {
                wrong.add(e.getKey() + " is " + e.getValue() + ", the header says " + h);
            }
        }
        assertEquals(List.of(), wrong, "layouts differing from " + header + " (FUSE 7." + headerMinor + ")");
        assertTrue(checked > 150, "only " + checked + " layout constants found by reflection");
    }

    @Test
    void everyOpcodeAndProtocolConstantMatchesTheHeader() {
        List<String> wrong = new ArrayList<>();
        for (var e : javaValues.entrySet()) {
            if (!e.getKey().startsWith("FuseOpcode.") && !e.getKey().startsWith("FuseAbi.")) {
                continue;
            }
            long h = headerValues.get(e.getKey());
            if (h != e.getValue()) {
                wrong.add(e.getKey() + " is " + e.getValue() + ", the header says " + h);
            }
        }
        assertEquals(List.of(), wrong, "constants differing from " + header);
    }

    @Test
    void structNamesFollowTheHeader() {
        assertEquals("in_header", snake("InHeader"));
        assertEquals("rename2_in", snake("Rename2In"));
        assertEquals("copy_file_range_in", snake("CopyFileRangeIn"));
        assertEquals("notify_inval_entry_out", snake("NotifyInvalEntryOut"));
    }
}
