/*
 * Runs file system calls given as arguments and prints, one line each, "<op> <path>: ok" or
 * "<op> <path>: <ERRNO NAME>". The tests run it as an unprivileged user (setpriv) in a native
 * directory and in an eFuse mount, and compare the two outputs.
 *
 * Each argument is one call, words separated by spaces:
 *   read P | write P | append P | otrunc P | creat P MODE | mkdir P MODE | mkfifo P MODE | symlink TARGET P |
 *   unlink P | rmdir P | rename A B | link A B | chmod P MODE | chown P UID GID | utime-now P |
 *   utime-set P SECONDS | truncate P LEN | setxattr P NAME VALUE | getxattr P NAME | opendir P | stat P |
 *   umask MODE | tmpfile DIR MODE P
 * "stat" prints "uid gid mode" (octal) instead of ok. "umask" sets the umask of the calls after it; "tmpfile"
 * opens an O_TMPFILE in DIR and links it as P (through /proc/self/fd, which needs no privilege).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

static int rw(const char *p, int flags) {
    int fd = open(p, flags);
    if (fd < 0) return -1;
    char c = 'x';
    ssize_t n = (flags & O_ACCMODE) == O_RDONLY ? read(fd, &c, 1) : write(fd, &c, 1);
    int e = errno;
    close(fd);
    errno = e;
    return n < 0 ? -1 : 0;
}

static int run(char *line) {
    char *w[5] = {0};
    int n = 0;
    for (char *t = strtok(line, " "); t && n < 5; t = strtok(NULL, " ")) w[n++] = t;
    if (n < 2) return -2;
    const char *op = w[0], *p = w[1];
    int r;
    errno = 0;
    if (!strcmp(op, "read")) r = rw(p, O_RDONLY);
    else if (!strcmp(op, "write")) r = rw(p, O_WRONLY);
    else if (!strcmp(op, "append")) r = rw(p, O_WRONLY | O_APPEND);
    else if (!strcmp(op, "otrunc")) {
        r = open(p, O_WRONLY | O_TRUNC);
        if (r >= 0) r = close(r);
    }
    else if (!strcmp(op, "creat") && n == 3) {
        r = open(p, O_CREAT | O_EXCL | O_WRONLY, (mode_t) strtol(w[2], 0, 8));
        if (r >= 0) r = close(r);
    } else if (!strcmp(op, "mkdir") && n == 3) r = mkdir(p, (mode_t) strtol(w[2], 0, 8));
    else if (!strcmp(op, "mkfifo") && n == 3) r = mkfifo(p, (mode_t) strtol(w[2], 0, 8));
    else if (!strcmp(op, "symlink") && n == 3) { r = symlink(w[1], w[2]); p = w[2]; }
    else if (!strcmp(op, "unlink")) r = unlink(p);
    else if (!strcmp(op, "rmdir")) r = rmdir(p);
    else if (!strcmp(op, "rename") && n == 3) r = rename(p, w[2]);
    else if (!strcmp(op, "link") && n == 3) r = link(p, w[2]);
    else if (!strcmp(op, "chmod") && n == 3) r = chmod(p, (mode_t) strtol(w[2], 0, 8));
    else if (!strcmp(op, "chown") && n == 4) r = chown(p, (uid_t) atoi(w[2]), (gid_t) atoi(w[3]));
    else if (!strcmp(op, "utime-now")) r = utimensat(AT_FDCWD, p, NULL, 0);
    else if (!strcmp(op, "utime-set") && n == 3) {
        struct timespec ts[2] = {{atol(w[2]), 0}, {atol(w[2]), 0}};
        r = utimensat(AT_FDCWD, p, ts, 0);
    } else if (!strcmp(op, "truncate") && n == 3) r = truncate(p, atol(w[2]));
    else if (!strcmp(op, "setxattr") && n == 4) r = setxattr(p, w[2], w[3], strlen(w[3]), 0);
    else if (!strcmp(op, "getxattr") && n == 3) {
        char v[256];
        r = getxattr(p, w[2], v, sizeof v) < 0 ? -1 : 0;
    } else if (!strcmp(op, "umask")) {
        umask((mode_t) strtol(p, 0, 8));
        r = 0;
    } else if (!strcmp(op, "tmpfile") && n == 4) {
        r = open(p, O_TMPFILE | O_WRONLY, (mode_t) strtol(w[2], 0, 8));
        if (r >= 0) {
            char fdpath[64];
            snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", r);
            int fd = r;
            r = linkat(AT_FDCWD, fdpath, AT_FDCWD, w[3], AT_SYMLINK_FOLLOW);
            int e = errno;
            close(fd);
            errno = e;
        }
        p = w[3];
    } else if (!strcmp(op, "opendir")) {
        DIR *d = opendir(p);
        r = d ? (readdir(d), closedir(d)) : -1;
    } else if (!strcmp(op, "stat")) {
        struct stat st;
        if (lstat(p, &st) == 0) {
            printf("%s %s: %u %u %o\n", op, p, st.st_uid, st.st_gid, st.st_mode);
            return 0;
        }
        r = -1;
    } else return -2;
    if (r < 0) printf("%s %s: %s\n", op, p, strerrorname_np(errno) ? strerrorname_np(errno) : "E?");
    else printf("%s %s: ok\n", op, p);
    return 0;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        char *copy = strdup(argv[i]);
        if (run(copy) == -2) {
            fprintf(stderr, "fsop: cannot parse '%s'\n", argv[i]);
            return 2;
        }
        free(copy);
        fflush(stdout);
    }
    return 0;
}
