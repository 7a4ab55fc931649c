package io.efuse.csi.bpf;

import com.sun.jna.Native;
import com.sun.jna.Pointer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntSupplier;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * libbpf with its failures turned into {@link BpfException}s. libbpf's print callback is process-wide, so the
 * process-wide instance ({@link #system()}) installs it once; messages printed while a call runs on a thread are
 * attached to that call's exception, the rest go to the log.
 */
public final class Libbpf {

    private static final Logger LOG = LoggerFactory.getLogger(Libbpf.class);
    private static final int LIBBPF_WARN = 0;
    private static final int LIBBPF_INFO = 1;
    private static final int MESSAGE_LIMIT = 64 * 1024;

    private final LibbpfNative lib;
    private final ThreadLocal<List<String>> captured = new ThreadLocal<>();
    // referenced from here so that the native side never calls a collected callback
    private final LibbpfNative.PrintCallback printer;

    /** Wraps a binding without touching libbpf's print callback (tests pass a substitute binding). */
    public Libbpf(LibbpfNative lib) {
        this(lib, false);
    }

    private Libbpf(LibbpfNative lib, boolean installPrinter) {
        this.lib = lib;
        this.printer = installPrinter ? this::print : null;
        if (installPrinter) {
            lib.libbpf_set_print(printer);
        }
    }

    private static final class SystemHolder {
        static final Libbpf INSTANCE = load();

        private static Libbpf load() {
            return new Libbpf(Native.load("libbpf.so.1", LibbpfNative.class,
                    java.util.Map.of(com.sun.jna.Library.OPTION_STRING_ENCODING, "UTF-8")), true);
        }
    }

    /**
     * The process's libbpf.so.1.
     *
     * @throws BpfUnavailableException when the library cannot be loaded
     */
    public static Libbpf system() throws BpfUnavailableException {
        try {
            return SystemHolder.INSTANCE;
        } catch (LinkageError e) {
            throw new BpfUnavailableException("libbpf.so.1 cannot be loaded (install libbpf1): " + e.getMessage(), e);
        }
    }

    LibbpfNative lib() {
        return lib;
    }

    public int numPossibleCpus() {
        int n = lib.libbpf_num_possible_cpus();
        if (n <= 0) {
            throw failure("count", "possible CPUs", -n);
        }
        return n;
    }

    /** Runs an int-returning libbpf call; a negative result is -errno. */
    int call(String operation, String subject, IntSupplier call) {
        List<String> outer = captured.get();
        List<String> messages = new ArrayList<>();
        captured.set(messages);
        try {
            int rc = call.getAsInt();
            if (rc < 0) {
                throw failure(operation, subject, -rc, messages);
            }
            return rc;
        } finally {
            captured.set(outer);
        }
    }

    /** Runs a pointer-returning libbpf call; null means failure with the errno in errno. */
    Pointer callPointer(String operation, String subject, Supplier<Pointer> call) {
        List<String> outer = captured.get();
        List<String> messages = new ArrayList<>();
        captured.set(messages);
        try {
            Pointer p = call.get();
            if (p == null) {
                throw failure(operation, subject, Native.getLastError(), messages);
            }
            return p;
        } finally {
            captured.set(outer);
        }
    }

    BpfException failure(String operation, String subject, int errno) {
        return failure(operation, subject, errno, List.of());
    }

    private BpfException failure(String operation, String subject, int errno, List<String> messages) {
        return new BpfException(operation, subject, errno, strerror(errno), messages);
    }

    String strerror(int errno) {
        byte[] buf = new byte[256];
        try {
            lib.libbpf_strerror(errno, buf, buf.length);
        } catch (RuntimeException | LinkageError e) {
            return "errno " + errno;
        }
        int len = 0;
        while (len < buf.length && buf[len] != 0) {
            len++;
        }
        return len == 0 ? "errno " + errno : new String(buf, 0, len, StandardCharsets.UTF_8);
    }

    private int print(int level, Pointer format, Pointer args) {
        if (level > LIBBPF_INFO) {
            return 0; // debug chatter: one line per relocation
        }
        byte[] buf = new byte[MESSAGE_LIMIT];
        int n = BpfLibc.INSTANCE.vsnprintf(buf, buf.length, format, args);
        String text = new String(buf, 0, Math.max(0, Math.min(n, buf.length - 1)), StandardCharsets.UTF_8).strip();
        if (text.isEmpty()) {
            return 0;
        }
        List<String> sink = captured.get();
        if (sink != null && level == LIBBPF_WARN) {
            sink.add(text);
        } else if (level == LIBBPF_WARN) {
            LOG.warn("libbpf: {}", text);
        } else {
            LOG.debug("libbpf: {}", text);
        }
        return 0;
    }
}
