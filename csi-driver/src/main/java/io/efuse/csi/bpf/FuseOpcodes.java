package io.efuse.csi.bpf;

import java.util.Map;

/**
 * Names of FUSE opcodes as the fuse tracepoints print them (lower case, without the FUSE_ prefix), for metric
 * labels. Unknown opcodes get "op_N".
 */
public final class FuseOpcodes {

    private static final Map<Integer, String> NAMES = Map.ofEntries(
            Map.entry(1, "lookup"), Map.entry(2, "forget"), Map.entry(3, "getattr"), Map.entry(4, "setattr"),
            Map.entry(5, "readlink"), Map.entry(6, "symlink"), Map.entry(8, "mknod"), Map.entry(9, "mkdir"),
            Map.entry(10, "unlink"), Map.entry(11, "rmdir"), Map.entry(12, "rename"), Map.entry(13, "link"),
            Map.entry(14, "open"), Map.entry(15, "read"), Map.entry(16, "write"), Map.entry(17, "statfs"),
            Map.entry(18, "release"), Map.entry(20, "fsync"), Map.entry(21, "setxattr"), Map.entry(22, "getxattr"),
            Map.entry(23, "listxattr"), Map.entry(24, "removexattr"), Map.entry(25, "flush"), Map.entry(26, "init"),
            Map.entry(27, "opendir"), Map.entry(28, "readdir"), Map.entry(29, "releasedir"),
            Map.entry(30, "fsyncdir"), Map.entry(31, "getlk"), Map.entry(32, "setlk"), Map.entry(33, "setlkw"),
            Map.entry(34, "access"), Map.entry(35, "create"), Map.entry(36, "interrupt"), Map.entry(37, "bmap"),
            Map.entry(38, "destroy"), Map.entry(39, "ioctl"), Map.entry(40, "poll"), Map.entry(41, "notify_reply"),
            Map.entry(42, "batch_forget"), Map.entry(43, "fallocate"), Map.entry(44, "readdirplus"),
            Map.entry(45, "rename2"), Map.entry(46, "lseek"), Map.entry(47, "copy_file_range"),
            Map.entry(48, "setupmapping"), Map.entry(49, "removemapping"), Map.entry(50, "syncfs"),
            Map.entry(51, "tmpfile"), Map.entry(52, "statx"), Map.entry(4096, "cuse_init"));

    public static final int LOOKUP = 1;
    public static final int GETATTR = 3;
    public static final int READ = 15;
    public static final int WRITE = 16;

    private FuseOpcodes() {
    }

    public static String name(int opcode) {
        String n = NAMES.get(opcode);
        return n != null ? n : "op_" + opcode;
    }
}
