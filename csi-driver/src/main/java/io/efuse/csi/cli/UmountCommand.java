package io.efuse.csi.cli;

import io.efuse.csi.sys.Errno;
import io.efuse.csi.sys.ErrnoException;
import io.efuse.csi.sys.LinuxConstants;
import io.efuse.csi.sys.MountTable;
import io.efuse.csi.sys.Syscalls;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code efuse-csi umount}: unmounts an eFuse volume; its serving process then exits on its own. */
@Command(name = "umount", mixinStandardHelpOptions = true, description = "Unmount an eFuse volume.")
final class UmountCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "MOUNTPOINT")
    Path mountPoint;

    @Option(names = "--lazy", description = "Detach even if busy; the volume ends when its last user closes it.")
    boolean lazy;

    @Override
    public Integer call() {
        Path p = mountPoint.toAbsolutePath().normalize();
        try {
            var entry = MountTable.find(p);
            if (entry.isEmpty()) {
                System.err.println("efuse-csi umount: " + p + " is not a mount point");
                return ExitCodes.BAD_MOUNTPOINT;
            }
            if (!entry.get().fsType().startsWith("fuse.efuse")) {
                System.err.println("efuse-csi umount: " + p + " is a " + entry.get().fsType()
                        + " mount, not an eFuse volume");
                return ExitCodes.BAD_MOUNTPOINT;
            }
            Syscalls.umount(p, LinuxConstants.UMOUNT_NOFOLLOW | (lazy ? LinuxConstants.MNT_DETACH : 0));
            return ExitCodes.OK;
        } catch (ErrnoException e) {
            if (e.errno() == Errno.EBUSY) {
                System.err.println("efuse-csi umount: " + p + " is busy (files are open); use --lazy to detach it");
                return ExitCodes.BUSY;
            }
            if (e.errno() == Errno.EPERM) {
                System.err.println("efuse-csi umount: must run as root");
                return ExitCodes.NOT_PERMITTED;
            }
            System.err.println("efuse-csi umount: " + e.getMessage());
            return ExitCodes.FAILED;
        } catch (IOException e) {
            System.err.println("efuse-csi umount: " + e.getMessage());
            return ExitCodes.FAILED;
        }
    }
}
