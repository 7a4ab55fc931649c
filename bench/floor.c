/*
 * What one FUSE round trip cannot go below on this machine: the cost of a system call, a wakeup of
 * another process and back (a pipe ping-pong, across CPUs and on one CPU), and, given a file on a FUSE
 * mount with attribute timeout 0, an fstat (one GETATTR round trip to the daemon). Prints "<what> <µs>".
 *
 * usage: floor [FILE_ON_A_FUSE_MOUNT]
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof set, &set);
}

/* Round trip through two pipes between this process (on cpu a) and a child (on cpu b). */
static double ping_pong(int a, int b, int n) {
    int there[2], back[2];
    char c = 0;
    if (pipe(there) || pipe(back)) { perror("pipe"); exit(1); }
    pid_t child = fork();
    if (child == 0) {
        pin(b);
        for (int i = 0; i < n; i++) {
            if (read(there[0], &c, 1) != 1 || write(back[1], &c, 1) != 1) _exit(1);
        }
        _exit(0);
    }
    pin(a);
    double t0 = now_us();
    for (int i = 0; i < n; i++) {
        if (write(there[1], &c, 1) != 1 || read(back[0], &c, 1) != 1) { perror("ping-pong"); exit(1); }
    }
    double t = (now_us() - t0) / n;
    waitpid(child, NULL, 0);
    close(there[0]); close(there[1]); close(back[0]); close(back[1]);
    return t;
}

int main(int argc, char **argv) {
    int n = 1000000;
    double t0 = now_us();
    for (int i = 0; i < n; i++) syscall(SYS_getppid);
    printf("syscall %.2f\n", (now_us() - t0) / n);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus > 1) printf("pipe_round_trip_two_cpus %.2f\n", ping_pong(0, 1, 20000));
    printf("pipe_round_trip_one_cpu %.2f\n", ping_pong(0, 0, 20000));
    if (argc > 1) {
        cpu_set_t all;
        CPU_ZERO(&all);
        for (int i = 0; i < cpus; i++) CPU_SET(i, &all);
        sched_setaffinity(0, sizeof all, &all);
        int fd = open(argv[1], O_RDONLY);
        if (fd < 0) { perror(argv[1]); return 1; }
        struct stat st;
        for (int i = 0; i < 1000; i++) fstat(fd, &st);
        n = 20000;
        t0 = now_us();
        for (int i = 0; i < n; i++) {
            if (fstat(fd, &st)) { perror("fstat"); return 1; }
        }
        printf("fstat_round_trip %.2f\n", (now_us() - t0) / n);
    }
    return 0;
}
