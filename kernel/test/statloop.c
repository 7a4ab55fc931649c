/*
 * The loops of the JVM VM test: stats (or reads) DIR/f0 … DIR/f<COUNT-1> PASSES times and checks every
 * result against what each file was made with (i % 97 bytes, all 'x'), so that a wrong answer from the
 * kernel's cache is seen, not only a missing one. Prints "stats N wrong W failed F us_per_stat X"; exits 1
 * on any wrong or failed operation.
 *
 *   statloop make DIR COUNT              create the files (in the backing directory)
 *   statloop stat DIR COUNT PASSES       stat each file (through the mount)
 *   statloop read DIR COUNT PASSES       read each file whole with O_DIRECT (so that every pass asks
 *                                        FUSE, without evicting the inode)
 *   statloop missing DIR COUNT PASSES    stat DIR/missing<i>, which must not exist
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

	if (argc < 4 || (strcmp(argv[1], "make") && argc != 5)) {
		fprintf(stderr, "usage: statloop make DIR COUNT | statloop stat|read|missing DIR COUNT PASSES\n");
		return 2;
	}
	count = strtol(argv[3], NULL, 10);
	if (!strcmp(argv[1], "make")) {
		for (long i = 0; i < count; i++) {
			int fd;

			snprintf(path, sizeof(path), "%s/f%ld", argv[2], i);
			char content[97];

			memset(content, 'x', sizeof(content));
			fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
			if (fd < 0 || write(fd, content, i % 97) != i % 97 || close(fd)) {
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

			stats++;
			if (!strcmp(argv[1], "missing")) {
				snprintf(path, sizeof(path), "%s/missing%ld", argv[2], i);
				if (!stat(path, &st) || errno != ENOENT)
					wrong++;
				continue;
			}
			snprintf(path, sizeof(path), "%s/f%ld", argv[2], i);
			if (!strcmp(argv[1], "read")) {
				static char *buf;
				ssize_t n;
				int fd = open(path, O_RDONLY | O_DIRECT);

				if (!buf && posix_memalign((void **)&buf, 4096, 4096))
					return 1;
				if (fd < 0) {
					failed++;
					continue;
				}
				n = read(fd, buf, 4096);
				close(fd);
				if (n != i % 97 || (n > 0 && (buf[0] != 'x' || buf[n - 1] != 'x')))
					wrong++;
				continue;
			}
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
