package io.efuse.csi.sys;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/** CPU numbering of this machine and pinning of the calling thread to one CPU. */
public final class CpuAffinity {
    private static final int CPU_SET_BYTES = 128; // glibc's cpu_set_t: 1024 CPUs

    private CpuAffinity() {}

    /** The CPUs the kernel may ever bring online (/sys/devices/system/cpu/possible), ascending. */
    public static int[] possible() {
        try {
            return parseList(Files.readString(Path.of("/sys/devices/system/cpu/possible")));
        } catch (IOException | IllegalArgumentException e) {
            int n = Runtime.getRuntime().availableProcessors();
            int[] all = new int[n];
            Arrays.setAll(all, i -> i);
            return all;
        }
    }

    /** Parses a kernel CPU list such as "0-3,6,8-9". */
    public static int[] parseList(String list) {
        String s = list.trim();
        if (s.isEmpty()) {
            return new int[0];
        }
        return Arrays.stream(s.split(",")).flatMapToInt(part -> {
            int dash = part.indexOf('-');
            if (dash < 0) {
                return java.util.stream.IntStream.of(Integer.parseInt(part.trim()));
            }
            int from = Integer.parseInt(part.substring(0, dash).trim());
            int to = Integer.parseInt(part.substring(dash + 1).trim());
            if (to < from) {
                throw new IllegalArgumentException("bad CPU range " + part);
            }
            return java.util.stream.IntStream.rangeClosed(from, to);
        }).sorted().distinct().toArray();
    }

    /** Restricts the calling thread to one CPU. */
    public static void pinCurrentThread(int cpu) throws ErrnoException {
        if (cpu < 0 || cpu >= CPU_SET_BYTES * 8) {
            throw new IllegalArgumentException("CPU " + cpu + " out of range");
        }
        ByteBuffer set = NativeMemory.allocate(CPU_SET_BYTES);
        set.put(cpu / 8, (byte) (1 << (cpu % 8)));
        if (LibC.sched_setaffinity(0, CPU_SET_BYTES, NativeMemory.address(set)) < 0) {
            throw new ErrnoException("sched_setaffinity", "cpu " + cpu, LibC.errno());
        }
    }

    /** The CPU the calling thread runs on right now. */
    public static int current() {
        return LibC.sched_getcpu();
    }
}
