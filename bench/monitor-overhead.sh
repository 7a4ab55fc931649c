#!/usr/bin/env bash
# Overhead of the eBPF FUSE monitor on the metadata workload M1 (docs: BENCHMARKS.md): on one eFuse mount,
# run M1 (create 10,000 empty files in one directory, stat all cold, stat all warm, unlink all) with the monitor
# detached and attached, alternating (ABBA) so that drift on a shared machine hits both sides alike, and print
# ops/s per phase and the ratio attached/detached of the medians. Then, because whole runs on a busy 2-core
# machine drift by more than the effect, M1 again in 1,000-file batches with the monitor toggled between
# batches (bench/MonitorOverhead.java), and one attached run with kernel.bpf_stats_enabled to measure the
# programs' own run time per request and its share of the wall time.
#
#   bench/monitor-overhead.sh [ROUNDS] [FILES]       (default 3 rounds of 2 runs each, 10000 files)
#
# Needs root, gcc, a built jar (./mvnw -DskipTests package). Results: bench/results/monitor-overhead-<time>.{md,csv}.
# Leaves the node's monitor as it found it (attached or not).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-3}
files=${2:-10000}
efuse="$here/bin/efuse-csi"
[ "$(id -u)" = 0 ] || { echo "monitor-overhead: run as root" >&2; exit 2; }
command -v gcc >/dev/null || { echo "monitor-overhead: needs gcc" >&2; exit 2; }

work=$(mktemp -d /var/tmp/efuse-m1-XXXXXX)
chattr +T "$work" 2>/dev/null || true
results="$here/bench/results"; mkdir -p "$results"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
csv="$results/monitor-overhead-$stamp.csv"; md="$results/monitor-overhead-$stamp.md"
mount_pid=""
was_attached=0
[ -e /sys/fs/bpf/efuse/monitor/link_fuse_request_send ] && was_attached=1

cleanup() {
  if [ -n "$mount_pid" ]; then
    "$efuse" umount "$work/mnt" >/dev/null 2>&1 || kill "$mount_pid" 2>/dev/null || true
    wait "$mount_pid" 2>/dev/null || true
  fi
  if [ "$was_attached" = 1 ]; then "$efuse" monitor attach >/dev/null 2>&1 || true
  else "$efuse" monitor detach >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

cat > "$work/m1.c" <<'C'
/* M1: create N empty files in DIR, stat all (cold: caches dropped), stat all (warm), unlink all. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
static void drop_caches(void) {
	sync();
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (fd < 0 || write(fd, "3", 1) != 1) { perror("drop_caches"); exit(1); }
	close(fd);
}
int main(int argc, char **argv) {
	if (argc != 3) { fprintf(stderr, "usage: m1 DIR N\n"); return 2; }
	int n = atoi(argv[2]);
	int dir = open(argv[1], O_RDONLY | O_DIRECTORY);
	if (dir < 0) { perror(argv[1]); return 1; }
	char name[32]; struct stat st; double t;
	t = now();
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof name, "f%06d", i);
		int fd = openat(dir, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
		if (fd < 0) { perror(name); return 1; }
		close(fd);
	}
	printf("create %.0f\n", n / (now() - t));
	drop_caches();
	t = now();
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof name, "f%06d", i);
		if (fstatat(dir, name, &st, 0)) { perror(name); return 1; }
	}
	printf("stat_cold %.0f\n", n / (now() - t));
	t = now();
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof name, "f%06d", i);
		if (fstatat(dir, name, &st, 0)) { perror(name); return 1; }
	}
	printf("stat_warm %.0f\n", n / (now() - t));
	t = now();
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof name, "f%06d", i);
		if (unlinkat(dir, name, 0)) { perror(name); return 1; }
	}
	printf("unlink %.0f\n", n / (now() - t));
	return 0;
}
C
gcc -O2 -o "$work/m1" "$work/m1.c"

mkdir -p "$work/backing" "$work/mnt"
"$efuse" mount --backing "$work/backing" "$work/mnt" > "$work/mount.log" 2>&1 &
mount_pid=$!
for _ in $(seq 1 300); do
  grep -q " $work/mnt " /proc/self/mountinfo && break
  kill -0 "$mount_pid" 2>/dev/null || { cat "$work/mount.log" >&2; exit 1; }
  sleep 0.1
done
grep -q " $work/mnt " /proc/self/mountinfo || { echo "monitor-overhead: mount did not appear" >&2; exit 1; }
for _ in $(seq 1 100); do grep -q 'tier=' "$work/mount.log" && break; sleep 0.1; done
tier=$(grep -o 'tier=[a-z]*' "$work/mount.log" | head -1 || true)

echo "state,run,phase,ops_per_s" > "$csv"
run=0
one() { # state
  local state=$1
  if [ "$state" = attached ]; then "$efuse" monitor attach >/dev/null; else "$efuse" monitor detach >/dev/null; fi
  run=$((run + 1))
  local d="$work/mnt/run$run"
  mkdir "$d"
  "$work/m1" "$d" "$files" | while read -r phase ops; do echo "$state,$run,$phase,$ops" >> "$csv"; done
  rmdir "$d"
}
for r in $(seq 1 "$rounds"); do
  if [ $((r % 2)) = 1 ]; then one detached; one attached; else one attached; one detached; fi
done

# Fine-grained interleaving: M1 in batches of 1,000 files, monitor toggled between batches (private pins).
"$efuse" monitor detach >/dev/null
java=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java
mkdir "$work/mnt/batches"
"$java" --enable-native-access=ALL-UNNAMED -cp "$here/csi-driver/target/efuse-csi.jar" "$here/bench/MonitorOverhead.java" \
  "$work/mnt/batches" 1000 "$((rounds * 4))" > "$work/batches.md" 2> "$work/batches.log"
rmdir "$work/mnt/batches"

# One more attached run with the kernel's BPF run-time statistics on: the programs' own cost per request and its
# share of the run's wall time bound the slowdown independently of the machine's noise.
bpf_totals() { # prints "run_time_ns run_cnt" summed over the monitor's programs
  bpftool prog show -j | python3 -c 'import json,sys
p=[x for x in json.load(sys.stdin) if x.get("name","").startswith("fuse_request_")]
print(sum(x.get("run_time_ns",0) for x in p), sum(x.get("run_cnt",0) for x in p))'
}
stats_before=$(sysctl -n kernel.bpf_stats_enabled)
"$efuse" monitor attach >/dev/null
sysctl -qw kernel.bpf_stats_enabled=1
read -r ns0 cnt0 < <(bpf_totals)
run=$((run + 1)); d="$work/mnt/run$run"; mkdir "$d"
t0=$(date +%s%N); "$work/m1" "$d" "$files" > /dev/null; t1=$(date +%s%N)
read -r ns1 cnt1 < <(bpf_totals)
sysctl -qw kernel.bpf_stats_enabled="$stats_before"
rmdir "$d"
echo "bpf,$run,bpf_ns,$((ns1 - ns0))" >> "$csv"
echo "bpf,$run,bpf_runs,$((cnt1 - cnt0))" >> "$csv"
echo "bpf,$run,wall_ns,$((t1 - t0))" >> "$csv"

python3 - "$csv" "$md" "$rounds" "$files" "$tier" "$work/batches.md" <<'PY'
import csv, statistics, sys, platform, os
path, md, rounds, files, tier, batches_md = sys.argv[1:]
rows = list(csv.DictReader(open(path)))
phases = ["create", "stat_cold", "stat_warm", "unlink"]
def vals(state, phase): return [float(r["ops_per_s"]) for r in rows if r["state"] == state and r["phase"] == phase]
out = [f"# eBPF monitor overhead on M1 ({files} files, {rounds} runs per state, ABBA order)", "",
       "Whole M1 runs (C program, monitor attached/detached with efuse-csi monitor between runs):", "",
       f"Linux {platform.release()}, {os.cpu_count()} cores, eFuse {tier or 'tier ?'}; ops/s median (min-max).", "",
       "| phase | detached | attached | attached/detached |", "|---|---|---|---|"]
for p in phases:
    d, a = vals("detached", p), vals("attached", p)
    md_, ma = statistics.median(d), statistics.median(a)
    out.append(f"| {p} | {md_:.0f} ({min(d):.0f}-{max(d):.0f}) | {ma:.0f} ({min(a):.0f}-{max(a):.0f}) | {ma/md_:.3f} |")
b = {r["phase"]: float(r["ops_per_s"]) for r in rows if r["state"] == "bpf"}
if b.get("bpf_runs"):
    per_run = b["bpf_ns"] / b["bpf_runs"]
    out += ["", f"BPF run time (kernel.bpf_stats_enabled) over one attached M1 run: {b['bpf_runs']:.0f} program runs "
            f"(2 per FUSE request), {per_run:.0f} ns per run, {2 * per_run:.0f} ns per request; "
            f"{b['bpf_ns'] / 1e6:.1f} ms in BPF of {b['wall_ns'] / 1e6:.0f} ms wall = "
            f"{100 * b['bpf_ns'] / b['wall_ns']:.2f}% (an upper bound of the slowdown: the programs run in the request path)."]
out += ["", "Interleaved batches (1,000 files each, monitor toggled between batches, ABBA):", ""]
out += open(batches_md).read().splitlines()
open(md, "w").write("\n".join(out) + "\n")
print("\n".join(out))
PY
echo "raw: $csv"
