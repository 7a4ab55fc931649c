package io.efuse.csi.fuse;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * The fuse module's global enable_uring parameter. The node plugin turns it on when the operator allows
 * it, because the kernel reads it only when a connection starts: volumes mounted before stay on /dev/fuse.
 */
public final class UringEnableSwitch {
    /** What {@link #turnOn} found and did; {@code on} tells whether new connections may use io_uring. */
    public record Outcome(boolean on, String message) {}

    private final Path parameter;

    public UringEnableSwitch(Path parameter) {
        this.parameter = parameter;
    }

    public static UringEnableSwitch system() {
        return new UringEnableSwitch(UringQueues.ENABLE_URING);
    }

    /**
     * Sets the parameter to Y. Never throws: a kernel without the parameter (before Linux 6.14) or a
     * read-only /sys (an unprivileged container) leaves the volumes on /dev/fuse, which is said in the
     * message.
     */
    public Outcome turnOn() {
        String before;
        try {
            before = Files.readString(parameter).trim();
        } catch (NoSuchFileException e) {
            return new Outcome(false, "this kernel has no FUSE-over-io_uring (" + parameter
                    + " is missing: Linux 6.14 or newer with CONFIG_FUSE_IO_URING is needed); volumes use /dev/fuse");
        } catch (IOException e) {
            return new Outcome(false, "cannot read " + parameter + ": " + e.getMessage() + "; volumes use /dev/fuse");
        }
        if (isOn(before)) {
            return new Outcome(true, "FUSE-over-io_uring was already enabled (" + parameter + " = " + before + ")");
        }
        try {
            Files.writeString(parameter, "Y");
            String after = Files.readString(parameter).trim();
            if (!isOn(after)) {
                return new Outcome(false, "wrote Y to " + parameter + " but it reads " + after
                        + "; volumes use /dev/fuse");
            }
        } catch (IOException e) {
            return new Outcome(false, "cannot enable FUSE-over-io_uring: writing " + parameter + " failed ("
                    + e.getMessage() + "; a read-only /sys needs a privileged container); volumes use /dev/fuse");
        }
        return new Outcome(true, "enabled FUSE-over-io_uring (" + parameter + " was " + before
                + "): volumes mounted from now on use per-CPU io_uring queues");
    }

    private static boolean isOn(String v) {
        return v.equals("Y") || v.equals("1");
    }
}
