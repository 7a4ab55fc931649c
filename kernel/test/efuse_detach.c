/*
 * Detaches the eBPF program from a FUSE server's connection from outside the server: takes a copy of
 * the server's /dev/fuse descriptor with pidfd_getfd(2) and sends FUSE_DEV_IOC_EFUSE_DETACH on it.
 * The VM test uses it to pull the program away while requests are being answered.
 *
 *   efuse_detach PID     exit 0 when a descriptor of PID was detached
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
#define FUSE_DEV_IOC_EFUSE_DETACH _IO(229, 0xe1)

int main(int argc, char **argv)
{
	char dir[64], link[PATH_MAX], target[PATH_MAX];
	struct dirent *d;
	int pidfd, done = 0;
	pid_t pid;
	DIR *fds;

	if (argc != 2) {
		fprintf(stderr, "usage: efuse_detach PID\n");
		return 2;
	}
	pid = (pid_t)strtol(argv[1], NULL, 10);
	pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		fprintf(stderr, "efuse_detach: pidfd_open %d: %s\n", pid, strerror(errno));
		return 1;
	}
	snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
	fds = opendir(dir);
	if (!fds) {
		fprintf(stderr, "efuse_detach: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	/* Every descriptor of the server is a clone of the same connection: one detach is enough. */
	while (!done && (d = readdir(fds))) {
		ssize_t n;
		int fd;

		snprintf(link, sizeof(link), "%s/%s", dir, d->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = 0;
		if (strcmp(target, "/dev/fuse"))
			continue;
		fd = syscall(SYS_pidfd_getfd, pidfd, atoi(d->d_name), 0);
		if (fd < 0) {
			fprintf(stderr, "efuse_detach: pidfd_getfd %s: %s\n", d->d_name, strerror(errno));
			continue;
		}
		if (ioctl(fd, FUSE_DEV_IOC_EFUSE_DETACH)) {
			fprintf(stderr, "efuse_detach: detach on fd %s: %s\n", d->d_name, strerror(errno));
		} else {
			printf("detached through fd %s of %d\n", d->d_name, pid);
			done = 1;
		}
		close(fd);
	}
	closedir(fds);
	return done ? 0 : 1;
}
