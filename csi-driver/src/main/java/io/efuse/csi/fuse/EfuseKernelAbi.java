package io.efuse.csi.fuse;

import io.efuse.csi.sys.LinuxConstants;

/**
 * What the eFuse kernel (kernel/patches) adds to the FUSE ABI: the INIT flag that announces it and the two
 * /dev/fuse ioctls that attach a BPF struct_ops (struct efuse_ops) to a connection and detach it. Kept apart
 * from {@link FuseAbi}, whose every constant is checked against upstream's linux/fuse.h.
 */
public final class EfuseKernelAbi {
    private EfuseKernelAbi() {}

    /** FUSE_EFUSE: bit 62 of the 64-bit INIT flags (bit 30 of fuse_init_in.flags2). Offered, never needed back. */
    public static final long EFUSE = 1L << 62;

    /** struct fuse_efuse_attach { u32 map_fd; u32 flags; u64 padding; } */
    public static final int ATTACH_SIZE = 16;
    public static final int ATTACH_MAP_FD = 0, ATTACH_FLAGS = 4, ATTACH_PADDING = 8;

    private static final int IOC_MAGIC = 229;
    /** _IOW(229, 0xe0, struct fuse_efuse_attach) = 0x4010e5e0 */
    public static final long DEV_IOC_EFUSE_ATTACH = LinuxConstants.ioc(LinuxConstants.IOC_WRITE, IOC_MAGIC, 0xe0,
            ATTACH_SIZE);
    /** _IO(229, 0xe1) = 0xe5e1 */
    public static final long DEV_IOC_EFUSE_DETACH = LinuxConstants.ioc(LinuxConstants.IOC_NONE, IOC_MAGIC, 0xe1, 0);
}
