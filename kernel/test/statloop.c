/*
 * The stat loop of the JVM VM test: stats DIR/f0 … DIR/f<COUNT-1> PASSES times and checks every result
 * against the size each file was made with (i % 97 bytes), so that a wrong answer from the kernel's cache
 * is seen, not only a missing one. Prints "stats N wrong W failed F us_per_stat X"; exits 1 on any
 * wrong or failed stat.
 *
 *   statloop make DIR COUNT           create the files (in the backing directory)
 *   statloop stat DIR COUNT PASSES    the loop (through the mount)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

int main(int argc, char **argv)
{
	char path[4096];
	long count, passes = 1, wrong = 0, failed = 0, stats = 0;
	double start;

	if (argc < 4 || (strcmp(argv[1], "make") && strcmp(argv[1], "stat")) ||
	    (!strcmp(argv[1], "stat") && argc != 5)) {
		fprintf(stderr, "usage: statloop make DIR COUNT | statloop stat DIR COUNT PASSES\n");
		return 2;
	}
	count = strtol(argv[3], NULL, 10);
	if (!strcmp(argv[1], "make")) {
		for (long i = 0; i < count; i++) {
			int fd;

			snprintf(path, sizeof(path), "%s/f%ld", argv[2], i);
			fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
			if (fd < 0 || ftruncate(fd, i % 97) || close(fd)) {
				fprintf(stderr, "statloop: %s: %s\n", path, strerror(errno));
				return 1;
			}
		}
		return 0;
	}
	passes = strtol(argv[4], NULL, 10);
	start = now_us();
	for (long p = 0; p < passes; p++) {
		for (long i = 0; i < count; i++) {
			struct stat st;

			snprintf(path, sizeof(path), "%s/f%ld", argv[2], i);
			stats++;
			if (stat(path, &st)) {
				failed++;
			} else if (!S_ISREG(st.st_mode) || st.st_size != i % 97) {
				wrong++;
			}
		}
	}
	printf("stats %ld wrong %ld failed %ld us_per_stat %.1f\n", stats, wrong, failed,
	       stats ? (now_us() - start) / stats : 0.0);
	return wrong || failed ? 1 : 0;
}
