#!/usr/bin/env bash
# Runs the benchmark suite of docs/benchmarks.md on native and on each eFuse tier in one invocation and
# writes a markdown table, a CSV, a PNG chart of the ratios to native and the raw fio JSON into
# bench/results/<timestamp>/. See docs/benchmarks.md.
set -uo pipefail

BENCH_HOME=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
REPO=$(cd "$BENCH_HOME/.." && pwd)

usage() {
  cat <<EOF
usage: bench/run.sh [options]

  --targets LIST     comma separated, from: $(target_table | awk '{print $1}' | paste -sd, -)
                     (default: native, the eFuse tiers the CLI offers, passthrough_hp)
  --workloads LIST   comma separated, from: W1,W2,W3,W4,S1,L1,M1,R1 (default: all)
                     S1 = W1 with 1 and 2 jobs (scaling), L1 = 4k random read latency (p50/p99/p99.9)
  --runs N           runs of every workload on every target (default 2; the table shows median and spread)
  --runtime SECONDS  length of each time-bounded fio run (default 10, --quick: 3)
  --scratch DIR      where the data lives during the run (default /var/tmp/efuse-bench); must not be tmpfs
  --results DIR      where the results go (default bench/results/<UTC timestamp>)
  --quick            small sizes and short runs: a smoke test of the harness, not a measurement
  --keep-scratch     leave the data files in the scratch directory
  -h, --help         this text

Needs root (drop_caches, mounts), fio, gcc, unzip, python3 and gnuplot; the eFuse targets need the built
artifact (./mvnw -DskipTests package). passthrough_hp is built on first use from Debian's fuse3 source
package into /var/cache/efuse-bench (set BENCH_PEER_CACHE to change it).
EOF
}

# shellcheck source=bench/lib/targets.sh
. "$BENCH_HOME/lib/targets.sh"
# shellcheck source=bench/lib/workloads.sh
. "$BENCH_HOME/lib/workloads.sh"
# shellcheck source=bench/lib/peer.sh
. "$BENCH_HOME/lib/peer.sh"
# shellcheck source=bench/lib/csi.sh
. "$BENCH_HOME/lib/csi.sh"

die() { echo "bench: $*" >&2; exit 2; }

# ---- arguments --------------------------------------------------------------------------------------
opt_targets="" opt_workloads="W1,W2,W3,W4,S1,L1,M1,R1" BENCH_RUNS=2 opt_runtime=""
BENCH_SCRATCH=/var/tmp/efuse-bench BENCH_RESULTS="" BENCH_QUICK=0 keep_scratch=0
while [ $# -gt 0 ]; do
  case $1 in
    --targets) opt_targets=${2:?--targets needs a list}; shift 2 ;;
    --workloads) opt_workloads=${2:?--workloads needs a list}; shift 2 ;;
    --runs) BENCH_RUNS=${2:?--runs needs a number}; shift 2 ;;
    --runtime) opt_runtime=${2:?--runtime needs seconds}; shift 2 ;;
    --scratch) BENCH_SCRATCH=${2:?--scratch needs a directory}; shift 2 ;;
    --results) BENCH_RESULTS=${2:?--results needs a directory}; shift 2 ;;
    --quick) BENCH_QUICK=1; shift ;;
    --keep-scratch) keep_scratch=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
[[ $BENCH_RUNS =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive number, got '$BENCH_RUNS'"
[ -z "$opt_runtime" ] || [[ $opt_runtime =~ ^[1-9][0-9]*$ ]] || die "--runtime must be a positive number of seconds, got '$opt_runtime'"

IFS=, read -r -a workloads <<<"$opt_workloads"
for w in "${workloads[@]}"; do workload_known "$w" || die "unknown workload '$w' (known: W1,W2,W3,W4,S1,L1,M1,R1)"; done

# ---- what the machine must have ---------------------------------------------------------------------
[ "$(id -u)" = 0 ] || die "needs root: it drops the page cache and mounts FUSE filesystems (run it with sudo)"
BENCH_FIO=${BENCH_FIO:-fio}
command -v "$BENCH_FIO" >/dev/null || die "fio is not installed: $BENCH_FIO not found (apt-get install fio)"
[ -x /usr/bin/python3 ] || die "python3 is not installed (apt-get install python3)"
command -v gnuplot >/dev/null || die "gnuplot is not installed, it draws the chart (apt-get install gnuplot-nox)"
[[ " ${workloads[*]} " != *" M1 "* ]] || command -v gcc >/dev/null || die "M1 needs gcc (apt-get install gcc libc6-dev)"
[[ " ${workloads[*]} " != *" R1 "* ]] || command -v unzip >/dev/null || die "R1 needs unzip (apt-get install unzip)"
BENCH_R1_ZIP=${BENCH_R1_ZIP:-/usr/lib/jvm/temurin-25-jdk-amd64/lib/src.zip}
[[ " ${workloads[*]} " != *" R1 "* ]] || [ -f "$BENCH_R1_ZIP" ] || die "R1 needs the JDK's src.zip at $BENCH_R1_ZIP (set BENCH_R1_ZIP)"

BENCH_EFUSE_BIN=${BENCH_EFUSE_BIN:-$REPO/bin/efuse-csi}
efuse_jar=${EFUSE_CSI_JAR:-$REPO/csi-driver/target/efuse-csi.jar}
efuse_ready() { [ -f "$efuse_jar" ]; }
BENCH_PEER_CACHE=${BENCH_PEER_CACHE:-/var/cache/efuse-bench}

if [ -z "$opt_targets" ]; then
  efuse_ready || die "the eFuse targets need the built artifact, $efuse_jar is missing: run ./mvnw -DskipTests package (or pick --targets native,passthrough_hp)"
  opt_targets=native,efuse-classic,efuse-passthrough
  if "$BENCH_EFUSE_BIN" mount --help 2>&1 | grep -q -- '--queues' && [ -e /sys/module/fuse/parameters/enable_uring ]; then
    opt_targets=$opt_targets,efuse-uring,efuse-uring-classic
  fi
  opt_targets=$opt_targets,passthrough_hp
fi
IFS=, read -r -a targets <<<"$opt_targets"
[[ " ${targets[*]} " == *" native "* ]] || die "--targets must include native: every figure is a ratio to it"
for t in "${targets[@]}"; do
  target_exists "$t" || die "unknown target '$t' (known: $(target_table | awk '{print $1}' | paste -sd, -))"
  case $(target_kind "$t") in
    efuse)
      efuse_ready || die "target $t needs the built artifact, $efuse_jar is missing: run ./mvnw -DskipTests package" ;;
    pvc)
      efuse_ready || die "target $t needs the built artifact, $efuse_jar is missing: run ./mvnw -DskipTests package"
      [ -n "$CSI_CLASSPATH" ] || csi_prepare || die "target $t drives the driver through the CSI client of the test sources, which is not usable"
      command -v losetup >/dev/null || die "target $t needs losetup (apt-get install mount)"
      if [ "$(target_args "$t")" = btrfs ]; then
        command -v mkfs.btrfs >/dev/null || die "target $t needs mkfs.btrfs (apt-get install btrfs-progs)"
        grep -qw btrfs /proc/filesystems || modprobe btrfs 2>/dev/null || die "target $t needs btrfs in the kernel (modprobe btrfs)"
      fi ;;
    peer)
      [ -n "${BENCH_PEER_BIN:-}" ] || peer_ensure "$BENCH_PEER_CACHE" || die "target $t needs passthrough_hp, which could not be built"
      peer_flags "$(target_args "$t")" >/dev/null || die "target $t cannot run with this passthrough_hp" ;;
  esac
done
if [[ " ${targets[*]} " == *" pvc-"* ]]; then
  [ -e /dev/fuse ] || die "/dev/fuse is missing (modprobe fuse)"
fi
if [[ " ${targets[*]} " == *" efuse"* ]]; then
  [ -e /dev/fuse ] || die "/dev/fuse is missing (modprobe fuse)"
  "$BENCH_EFUSE_BIN" mount --help 2>&1 | grep -q -- '--queues' && BENCH_EFUSE_HAS_QUEUES=1
  for t in "${targets[@]}"; do
    if [[ $(target_args "$t") == *--queues* ]] && [ "$BENCH_EFUSE_HAS_QUEUES" != 1 ]; then
      die "target $t needs 'efuse-csi mount --queues', which this build does not have"
    fi
  done
fi
# The io_uring targets need the fuse module's switch on; it is put back as it was when the run ends.
uring_switch=/sys/module/fuse/parameters/enable_uring uring_switch_was=""
if [[ " ${targets[*]} " == *" efuse-uring"* ]]; then
  [ -w "$uring_switch" ] || die "the efuse-uring targets need FUSE-over-io_uring: $uring_switch is missing (Linux 6.14+)"
  uring_switch_was=$(cat "$uring_switch")
  echo Y >"$uring_switch" || die "cannot turn $uring_switch on"
fi

# ---- sizes ------------------------------------------------------------------------------------------
if [ $BENCH_QUICK = 1 ]; then
  BENCH_RUNTIME=${opt_runtime:-3} BENCH_RAMP=0
  BENCH_W1_SIZE=64m BENCH_W2_FILES=100 BENCH_W3_FILESIZE=16m BENCH_L1_IO=8m
  BENCH_M1_FILES=1000 BENCH_R1_MEMBERS='java.base/java/util/*'
else
  BENCH_RUNTIME=${opt_runtime:-10} BENCH_RAMP=1
  BENCH_W1_SIZE=1g BENCH_W2_FILES=2000 BENCH_W3_FILESIZE=256m BENCH_L1_IO=64m
  BENCH_M1_FILES=10000 BENCH_R1_MEMBERS=''
fi
BENCH_RUNTIME_SHORT=$(( BENCH_RUNTIME / 2 > 3 ? BENCH_RUNTIME / 2 : 3 ))
BENCH_MOUNT_TIMEOUT=${BENCH_MOUNT_TIMEOUT:-30}

# ---- scratch and results ----------------------------------------------------------------------------
stamp=$(date -u +%Y%m%dT%H%M%SZ)
BENCH_RESULTS=${BENCH_RESULTS:-$BENCH_HOME/results/$stamp}
mkdir -p "$BENCH_RESULTS/raw" "$BENCH_RESULTS/logs" || die "cannot create $BENCH_RESULTS"
: >"$BENCH_RESULTS/measurements.tsv"
: >"$BENCH_RESULTS/targets.tsv"
: >"$BENCH_RESULTS/errors.tsv"
# Everything said on stderr from here on is also kept next to the results.
exec 2> >(tee -a "$BENCH_RESULTS/run.log" >&2)

mkdir -p "$BENCH_SCRATCH" || die "cannot create scratch directory $BENCH_SCRATCH"
BENCH_SCRATCH=$(cd "$BENCH_SCRATCH" && pwd)
case $(stat -f -c %T "$BENCH_SCRATCH") in
  tmpfs|fuseblk|fuse) die "scratch $BENCH_SCRATCH is on $(stat -f -c %T "$BENCH_SCRATCH"): put it on a disk filesystem (--scratch)" ;;
esac
# New directories under a +T directory are spread over block groups (Orlov), so each M1 and R1 starts in
# a fresh top-level directory instead of next to the inodes the previous one just freed (measured here:
# 9 µs per create in a fresh one, 240-380 µs in a subdirectory of a directory that saw earlier runs).
chattr +T "$BENCH_SCRATCH" 2>/dev/null || echo "bench: note: chattr +T failed on $BENCH_SCRATCH (not ext2/3/4?)" >&2
run_dir=$(mktemp -d "$BENCH_SCRATCH/run.XXXXXX")
BENCH_DATA=$run_dir/data

cleanup() {
  if [ -n "${TARGET_PID:-}${TARGET_MNT:-}" ]; then target_down "${current_target:-target}"; fi
  if [ -n "$uring_switch_was" ]; then echo "$uring_switch_was" >"$uring_switch"; fi
  if [ $keep_scratch = 1 ]; then
    echo "bench: scratch kept in $run_dir" >&2
  else
    rm -rf "$run_dir" "$run_dir"-*
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ " ${workloads[*]} " == *" M1 "* ]]; then
  BENCH_M1_BIN=$run_dir/m1
  gcc -O2 -Wall -Werror -o "$BENCH_M1_BIN" "$BENCH_HOME/m1.c" || die "compiling $BENCH_HOME/m1.c failed"
fi

{
  printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
  printf 'kernel\t%s\n' "$(uname -r)"
  printf 'cores\t%s\n' "$(nproc)"
  printf 'cpu\t%s\n' "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
  printf 'memory\t%s GiB\n' "$(awk '/^MemTotal/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo)"
  printf 'scratch\t%s (%s)\n' "$BENCH_SCRATCH" "$(findmnt -n -o FSTYPE,SOURCE,OPTIONS -T "$BENCH_SCRATCH" | tr -s " ")"
  printf 'load\t%s (1, 5, 15 min load average at start)\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
  printf 'fio\t%s\n' "$("$BENCH_FIO" --version)"
  printf 'commit\t%s\n' "$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  printf 'mode\t%s\n' "$([ $BENCH_QUICK = 1 ] && echo "quick (smoke test, not a measurement)" || echo full)"
  printf 'runs\t%s\n' "$BENCH_RUNS"
  printf 'runtime\t%ss per time-bounded fio run (+%ss ramp), %ss for S1\n' "$BENCH_RUNTIME" "$BENCH_RAMP" "$BENCH_RUNTIME_SHORT"
  printf 'targets\t%s\n' "${targets[*]}"
  printf 'workloads\t%s\n' "${workloads[*]}"
} >"$BENCH_RESULTS/env.tsv"
for w in "${workloads[@]}"; do printf '%s\t%s\n' "$w" "$(workload_description "$w")"; done >"$BENCH_RESULTS/workloads.tsv"

# ---- the runs ---------------------------------------------------------------------------------------
echo "bench: results in $BENCH_RESULTS" >&2
echo "bench: laying out the fio files in $BENCH_DATA" >&2
layout_data "${workloads[@]}" || die "laying out the fio files failed"

failures=0
# run_one WORKLOAD TARGET RUN: brings the target up over the workload's backing, runs, takes it down.
run_one() {
  local w=$1 t=$2 run=$3 backing log rc=0
  current_target=$t
  if [ "$(workload_backing "$w")" = data ]; then
    backing=$BENCH_DATA
  else
    # A sibling of run_dir, not a child: only directories made right under the +T scratch are spread.
    backing=$run_dir-$w-$t-r$run
    mkdir "$backing" || return 1
  fi
  log=$BENCH_RESULTS/logs/$w-$t-r$run.log
  target_up "$t" "$backing" "$run_dir/mnt-$t" "$log" "$(workload_files "$w")" || return 1
  printf '%s\t%s\t%s\t%s\n' "$t" "$w" "$run" "$(target_describe "$t" "$log")" >>"$BENCH_RESULTS/targets.tsv"
  "wl_$w" "$t" "$run" "$TARGET_DIR" || rc=1
  target_down "$t" || rc=1
  [ "$(workload_backing "$w")" = data ] || rm -rf "$backing"
  return $rc
}

started=$SECONDS
for run in $(seq 1 "$BENCH_RUNS"); do
  # Every other run visits the targets in reverse, so drift on a shared machine does not favour one.
  order=("${targets[@]}")
  if [ $((run % 2)) = 0 ]; then
    order=(); for ((i = ${#targets[@]} - 1; i >= 0; i--)); do order+=("${targets[i]}"); done
  fi
  for w in "${workloads[@]}"; do
    for t in "${order[@]}"; do
      echo "bench: [$((SECONDS - started))s] run $run/$BENCH_RUNS $w on $t" >&2
      if ! run_one "$w" "$t" "$run"; then
        echo "bench: $w on $t (run $run) failed; see $BENCH_RESULTS/logs/$w-$t-r$run.log" >&2
        printf '%s\t%s\t%s\n' "$w" "$t" "$run" >>"$BENCH_RESULTS/errors.tsv"
        failures=$((failures + 1))
      fi
    done
  done
done
printf 'duration\t%ss\n' "$((SECONDS - started))" >>"$BENCH_RESULTS/env.tsv"
printf 'load at end\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$BENCH_RESULTS/env.tsv"

/usr/bin/python3 "$BENCH_HOME/lib/report.py" "$BENCH_RESULTS" || die "writing the report failed"
echo "bench: wrote $BENCH_RESULTS/results.md, results.csv and chart.png" >&2
[ $failures = 0 ] || { echo "bench: $failures workload runs failed (listed in the report)" >&2; exit 1; }
