package io.efuse.csi.fuse;

/**
 * Byte layouts of the FUSE ABI structs (include/uapi/linux/fuse.h), one nested class per struct,
 * named after it; constants are the C field names in upper case. The request path reads and writes
 * buffers at these offsets directly; a test checks every one against the kernel header with the C
 * compiler's offsetof/sizeof.
 */
public final class FuseStructs {
    private FuseStructs() {}

    public static final class InHeader {
        public static final int SIZE = 40;
        public static final int LEN = 0, OPCODE = 4, UNIQUE = 8, NODEID = 16, UID = 24, GID = 28, PID = 32,
                TOTAL_EXTLEN = 36, PADDING = 38;
    }

    public static final class OutHeader {
        public static final int SIZE = 16;
        public static final int LEN = 0, ERROR = 4, UNIQUE = 8;
    }

    public static final class Attr {
        public static final int SIZE = 88;
        public static final int INO = 0, SIZE_ = 8, BLOCKS = 16, ATIME = 24, MTIME = 32, CTIME = 40,
                ATIMENSEC = 48, MTIMENSEC = 52, CTIMENSEC = 56, MODE = 60, NLINK = 64, UID = 68, GID = 72,
                RDEV = 76, BLKSIZE = 80, FLAGS = 84;
    }

    public static final class Kstatfs {
        public static final int SIZE = 80;
        public static final int BLOCKS = 0, BFREE = 8, BAVAIL = 16, FILES = 24, FFREE = 32, BSIZE = 40,
                NAMELEN = 44, FRSIZE = 48, PADDING = 52, SPARE = 56;
    }

    public static final class EntryOut {
        public static final int SIZE = 128;
        public static final int NODEID = 0, GENERATION = 8, ENTRY_VALID = 16, ATTR_VALID = 24,
                ENTRY_VALID_NSEC = 32, ATTR_VALID_NSEC = 36, ATTR = 40;
    }

    public static final class ForgetIn {
        public static final int SIZE = 8;
        public static final int NLOOKUP = 0;
    }

    public static final class ForgetOne {
        public static final int SIZE = 16;
        public static final int NODEID = 0, NLOOKUP = 8;
    }

    public static final class BatchForgetIn {
        public static final int SIZE = 8;
        public static final int COUNT = 0, DUMMY = 4;
    }

    public static final class GetattrIn {
        public static final int SIZE = 16;
        public static final int GETATTR_FLAGS = 0, DUMMY = 4, FH = 8;
    }

    public static final class AttrOut {
        public static final int SIZE = 104;
        public static final int ATTR_VALID = 0, ATTR_VALID_NSEC = 8, DUMMY = 12, ATTR = 16;
    }

    public static final class MknodIn {
        public static final int SIZE = 16;
        public static final int MODE = 0, RDEV = 4, UMASK = 8, PADDING = 12;
    }

    public static final class MkdirIn {
        public static final int SIZE = 8;
        public static final int MODE = 0, UMASK = 4;
    }

    public static final class RenameIn {
        public static final int SIZE = 8;
        public static final int NEWDIR = 0;
    }

    public static final class Rename2In {
        public static final int SIZE = 16;
        public static final int NEWDIR = 0, FLAGS = 8, PADDING = 12;
    }

    public static final class LinkIn {
        public static final int SIZE = 8;
        public static final int OLDNODEID = 0;
    }

    public static final class SetattrIn {
        public static final int SIZE = 88;
        public static final int VALID = 0, PADDING = 4, FH = 8, SIZE_ = 16, LOCK_OWNER = 24, ATIME = 32,
                MTIME = 40, CTIME = 48, ATIMENSEC = 56, MTIMENSEC = 60, CTIMENSEC = 64, MODE = 68, UNUSED4 = 72,
                UID = 76, GID = 80, UNUSED5 = 84;
    }

    public static final class OpenIn {
        public static final int SIZE = 8;
        public static final int FLAGS = 0, OPEN_FLAGS = 4;
    }

    public static final class CreateIn {
        public static final int SIZE = 16;
        public static final int FLAGS = 0, MODE = 4, UMASK = 8, OPEN_FLAGS = 12;
    }

    public static final class OpenOut {
        public static final int SIZE = 16;
        public static final int FH = 0, OPEN_FLAGS = 8, BACKING_ID = 12;
    }

    public static final class ReleaseIn {
        public static final int SIZE = 24;
        public static final int FH = 0, FLAGS = 8, RELEASE_FLAGS = 12, LOCK_OWNER = 16;
    }

    public static final class FlushIn {
        public static final int SIZE = 24;
        public static final int FH = 0, UNUSED = 8, PADDING = 12, LOCK_OWNER = 16;
    }

    public static final class ReadIn {
        public static final int SIZE = 40;
        public static final int FH = 0, OFFSET = 8, SIZE_ = 16, READ_FLAGS = 20, LOCK_OWNER = 24, FLAGS = 32,
                PADDING = 36;
    }

    public static final class WriteIn {
        public static final int SIZE = 40;
        public static final int FH = 0, OFFSET = 8, SIZE_ = 16, WRITE_FLAGS = 20, LOCK_OWNER = 24, FLAGS = 32,
                PADDING = 36;
    }

    public static final class WriteOut {
        public static final int SIZE = 8;
        public static final int SIZE_ = 0, PADDING = 4;
    }

    public static final class StatfsOut {
        public static final int SIZE = 80;
        public static final int ST = 0;
    }

    public static final class FsyncIn {
        public static final int SIZE = 16;
        public static final int FH = 0, FSYNC_FLAGS = 8, PADDING = 12;
    }

    public static final class SetxattrIn {
        public static final int SIZE = 16;
        /** Size of the struct before FUSE_SETXATTR_EXT was negotiated. */
        public static final int COMPAT_SIZE = 8;
        public static final int SIZE_ = 0, FLAGS = 4, SETXATTR_FLAGS = 8, PADDING = 12;
    }

    public static final class GetxattrIn {
        public static final int SIZE = 8;
        public static final int SIZE_ = 0, PADDING = 4;
    }

    public static final class GetxattrOut {
        public static final int SIZE = 8;
        public static final int SIZE_ = 0, PADDING = 4;
    }

    public static final class AccessIn {
        public static final int SIZE = 8;
        public static final int MASK = 0, PADDING = 4;
    }

    public static final class InitIn {
        public static final int SIZE = 64;
        public static final int MAJOR = 0, MINOR = 4, MAX_READAHEAD = 8, FLAGS = 12, FLAGS2 = 16, UNUSED = 20;
    }

    public static final class InitOut {
        public static final int SIZE = 64;
        public static final int MAJOR = 0, MINOR = 4, MAX_READAHEAD = 8, FLAGS = 12, MAX_BACKGROUND = 16,
                CONGESTION_THRESHOLD = 18, MAX_WRITE = 20, TIME_GRAN = 24, MAX_PAGES = 28, MAP_ALIGNMENT = 30,
                FLAGS2 = 32, MAX_STACK_DEPTH = 36;
    }

    public static final class InterruptIn {
        public static final int SIZE = 8;
        public static final int UNIQUE = 0;
    }

    public static final class FallocateIn {
        public static final int SIZE = 32;
        public static final int FH = 0, OFFSET = 8, LENGTH = 16, MODE = 24, PADDING = 28;
    }

    public static final class LseekIn {
        public static final int SIZE = 24;
        public static final int FH = 0, OFFSET = 8, WHENCE = 16, PADDING = 20;
    }

    public static final class LseekOut {
        public static final int SIZE = 8;
        public static final int OFFSET = 0;
    }

    public static final class CopyFileRangeIn {
        public static final int SIZE = 56;
        public static final int FH_IN = 0, OFF_IN = 8, NODEID_OUT = 16, FH_OUT = 24, OFF_OUT = 32, LEN = 40,
                FLAGS = 48;
    }

    public static final class Dirent {
        public static final int SIZE = 24;
        public static final int INO = 0, OFF = 8, NAMELEN = 16, TYPE = 20;
    }

    public static final class Direntplus {
        public static final int SIZE = 152;
        public static final int ENTRY_OUT = 0, DIRENT = 128;
    }

    public static final class NotifyInvalInodeOut {
        public static final int SIZE = 24;
        public static final int INO = 0, OFF = 8, LEN = 16;
    }

    public static final class NotifyInvalEntryOut {
        public static final int SIZE = 16;
        public static final int PARENT = 0, NAMELEN = 8, FLAGS = 12;
    }

    public static final class NotifyDeleteOut {
        public static final int SIZE = 24;
        public static final int PARENT = 0, CHILD = 8, NAMELEN = 16, PADDING = 20;
    }

    public static final class BackingMap {
        public static final int SIZE = 16;
        public static final int FD = 0, FLAGS = 4, PADDING = 8;
    }

    public static final class ExtHeader {
        public static final int SIZE = 8;
        public static final int SIZE_ = 0, TYPE = 4;
    }
}
