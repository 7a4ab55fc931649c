/*
 * M1, the metadata workload: create N empty files in one directory, stat them all with cold caches,
 * stat them all again warm, unlink them all. Prints one line per phase: "<phase> <ops per second>".
 *
 * Caches are dropped (sync, then vm.drop_caches=3) between create and the cold stat, outside the
 * timed region, so the cold phase sees the lookups a fresh reader would cause. Needs root for that.
 *
 * usage: m1 DIR [COUNT]    (DIR must exist and be empty; COUNT defaults to 10000)
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

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fail(const char *op, const char *path) {
    fprintf(stderr, "m1: %s %s: %s (errno %d)\n", op, path, strerror(errno), errno);
    exit(1);
}

static void drop_caches(void) {
    sync();
    int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
    if (fd < 0) fail("open", "/proc/sys/vm/drop_caches");
    if (write(fd, "3\n", 2) != 2) fail("write", "/proc/sys/vm/drop_caches");
    close(fd);
}

static void report(const char *phase, long count, double seconds) {
    printf("%s %.1f\n", phase, count / seconds);
    fflush(stdout);
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: m1 DIR [COUNT]\n");
        return 2;
    }
    const char *dir = argv[1];
    long count = argc == 3 ? strtol(argv[2], NULL, 10) : 10000;
    if (count <= 0) {
        fprintf(stderr, "m1: COUNT must be a positive number, got %s\n", argv[2]);
        return 2;
    }
    /* Paths relative to the directory: the timed loops measure the filesystem, not path walks above it. */
    if (chdir(dir) != 0) fail("chdir", dir);

    char name[32];
    struct stat st;

    double t0 = now_seconds();
    for (long i = 0; i < count; i++) {
        snprintf(name, sizeof name, "f%07ld", i);
        int fd = open(name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
        if (fd < 0) fail("create", name);
        if (close(fd) != 0) fail("close", name);
    }
    report("create", count, now_seconds() - t0);

    drop_caches();

    t0 = now_seconds();
    for (long i = 0; i < count; i++) {
        snprintf(name, sizeof name, "f%07ld", i);
        if (stat(name, &st) != 0) fail("stat", name);
    }
    report("stat_cold", count, now_seconds() - t0);

    t0 = now_seconds();
    for (long i = 0; i < count; i++) {
        snprintf(name, sizeof name, "f%07ld", i);
        if (stat(name, &st) != 0) fail("stat", name);
    }
    report("stat_warm", count, now_seconds() - t0);

    t0 = now_seconds();
    for (long i = 0; i < count; i++) {
        snprintf(name, sizeof name, "f%07ld", i);
        if (unlink(name) != 0) fail("unlink", name);
    }
    report("unlink", count, now_seconds() - t0);
    return 0;
}
