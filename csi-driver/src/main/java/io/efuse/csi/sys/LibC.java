package io.efuse.csi.sys;

import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;

/**
 * Direct-mapped glibc entry points. Pointer arguments are raw addresses ({@code long}) so that
 * the request path can hand the kernel memory inside pooled direct buffers without copying or
 * allocating; a failed call returns -1 and {@link #errno()} tells why.
 */
public final class LibC {
    static {
        Native.register(LibC.class, NativeLibrary.getInstance("c"));
    }

    private LibC() {}

    /** errno of the last native call made by this thread through this class. */
    public static int errno() {
        return Native.getLastError();
    }

    /** strerror text, for messages only. */
    public static String describe(int errno) {
        return strerror(errno);
    }

    public static native String strerror(int errnum);

    public static native int open(long path, int flags, int mode);

    public static native int openat(int dirfd, long path, int flags, int mode);

    public static native int close(int fd);

    public static native int dup(int fd);

    public static native int fcntl(int fd, int cmd, long arg);

    public static native long read(int fd, long buf, long count);

    public static native long write(int fd, long buf, long count);

    public static native long pread(int fd, long buf, long count, long offset);

    public static native long pwrite(int fd, long buf, long count, long offset);

    public static native int statx(int dirfd, long path, int flags, int mask, long statxbuf);

    public static native int fchownat(int dirfd, long path, int uid, int gid, int flags);

    public static native int fchmodat(int dirfd, long path, int mode, int flags);

    public static native int fchmod(int fd, int mode);

    public static native int fchown(int fd, int uid, int gid);

    public static native int ftruncate(int fd, long length);

    public static native int truncate(long path, long length);

    public static native int utimensat(int dirfd, long path, long times, int flags);

    public static native int futimens(int fd, long times);

    public static native int mkdirat(int dirfd, long path, int mode);

    public static native int mknodat(int dirfd, long path, int mode, long dev);

    public static native int symlinkat(long target, int newdirfd, long linkpath);

    public static native long readlinkat(int dirfd, long path, long buf, long bufsiz);

    public static native int unlinkat(int dirfd, long path, int flags);

    public static native int renameat2(int olddirfd, long oldpath, int newdirfd, long newpath, int flags);

    public static native int linkat(int olddirfd, long oldpath, int newdirfd, long newpath, int flags);

    public static native int fstatfs(int fd, long buf);

    public static native int fsync(int fd);

    public static native int fdatasync(int fd);

    public static native int syncfs(int fd);

    public static native int fallocate(int fd, int mode, long offset, long len);

    /** offIn/offOut are addresses of loff_t values (or 0). */
    public static native long copy_file_range(int fdIn, long offIn, int fdOut, long offOut, long len, int flags);

    public static native long lseek(int fd, long offset, int whence);

    public static native long getxattr(long path, long name, long value, long size);

    public static native long lgetxattr(long path, long name, long value, long size);

    public static native int setxattr(long path, long name, long value, long size, int flags);

    public static native int lsetxattr(long path, long name, long value, long size, int flags);

    public static native long listxattr(long path, long list, long size);

    public static native long llistxattr(long path, long list, long size);

    public static native int removexattr(long path, long name);

    public static native int lremovexattr(long path, long name);

    public static native int ioctl(int fd, long request, long arg);

    public static native int mount(long source, long target, long fstype, long flags, long data);

    public static native int umount2(long target, int flags);

    public static native int setfsuid(int fsuid);

    public static native int setfsgid(int fsgid);

    public static native int umask(int mask);

    public static native int unshare(int flags);

    public static native int getpid();

    public static native int gettid();

    public static native int getuid();

    public static native int geteuid();

    public static native int name_to_handle_at(int dirfd, long path, long handle, long mountId, int flags);

    public static native int open_by_handle_at(int mountFd, long handle, int flags);

    public static native int getrlimit(int resource, long rlim);

    public static native int setrlimit(int resource, long rlim);

    public static native long syscall(long number, long a1, long a2, long a3, long a4, long a5, long a6);

    /** Returns the mapping's address, or -1 (MAP_FAILED) with errno set. */
    public static native long mmap(long addr, long length, int prot, int flags, int fd, long offset);

    public static native int munmap(long addr, long length);

    /** pid 0 is the calling thread; mask points at a cpu_set_t of cpusetsize bytes. */
    public static native int sched_setaffinity(int pid, long cpusetsize, long mask);

    public static native int sched_getcpu();

    public static native int socket(int domain, int type, int protocol);

    public static native int bind(int fd, long addr, int addrlen);

    public static native int listen(int fd, int backlog);

    public static native int accept4(int fd, long addr, long addrlen, int flags);

    public static native int connect(int fd, long addr, int addrlen);

    public static native long sendmsg(int fd, long msghdr, int flags);

    public static native long recvmsg(int fd, long msghdr, int flags);

    public static native int shutdown(int fd, int how);

    /** fds points at an array of struct pollfd {int fd; short events; short revents;}. */
    public static native int poll(long fds, long nfds, int timeout);

    public static native int eventfd(int initval, int flags);
}
