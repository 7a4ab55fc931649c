#!/usr/bin/env bash
# Load-aware workers under a bursty load, and their cost when idle: the same eFuse volume (classic tier,
# /dev/fuse queues) served by a fixed pool of 2 workers and by a pool the eBPF monitor may grow to
# --max (default 8), in one invocation. Bursts: N fio jobs each doing cold 4 KiB O_DIRECT random
# reads in groups of 256 separated by 200 ms pauses. Idle: the daemon's CPU time over 10 s of no load.
# Prints a markdown table; ratios are scaled/fixed.
set -euo pipefail
here=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
jobs=8 max=8 runtime=20 scratch=/var/tmp/efuse-bursty
while [ $# -gt 0 ]; do
  case $1 in
    --jobs) jobs=$2; shift 2 ;;
    --max) max=$2; shift 2 ;;
    --runtime) runtime=$2; shift 2 ;;
    --scratch) scratch=$2; shift 2 ;;
    *) echo "usage: bench/bursty-workers.sh [--jobs N] [--max N] [--runtime S] [--scratch DIR]" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "bursty-workers: needs root" >&2; exit 2; }
command -v fio >/dev/null || { echo "bursty-workers: needs fio" >&2; exit 2; }
[ -f "$here/csi-driver/target/efuse-csi.jar" ] || { echo "bursty-workers: build first: ./mvnw -DskipTests package" >&2; exit 2; }

mkdir -p "$scratch/backing" "$scratch/mnt"
trap 'mountpoint -q "$scratch/mnt" && "$here/bin/efuse-csi" umount --lazy "$scratch/mnt"; rm -rf "$scratch"' EXIT
# Lay the files out once, natively.
fio --name=lay --directory="$scratch/backing" --rw=write --bs=1m --size=128m --numjobs="$jobs" \
    --ioengine=psync --output=/dev/null

cpu_ms() { awk '{print ($14 + $15) * 10}' "/proc/$1/stat"; }

run_target() { # label workers max_workers
  local label=$1 workers=$2 maxw=$3 pid
  "$here/bin/efuse-csi" mount --tier classic --queues dev --workers "$workers" --max-workers "$maxw" \
      --backing "$scratch/backing" "$scratch/mnt" >"$scratch/$label.log" 2>&1 &
  pid=$!
  for _ in $(seq 300); do mountpoint -q "$scratch/mnt" && break; sleep 0.1; done
  mountpoint -q "$scratch/mnt" || { cat "$scratch/$label.log" >&2; exit 1; }
  sleep 2
  local c0; c0=$(cpu_ms "$pid"); sleep 10; local idle=$(( $(cpu_ms "$pid") - c0 ))
  sync; echo 3 > /proc/sys/vm/drop_caches
  fio --name=burst --directory="$scratch/mnt" --filename_format='lay.$jobnum.0' --rw=randread --bs=4k \
      --size=128m --numjobs="$jobs" --direct=1 --ioengine=psync --thinktime=200000 --thinktime_blocks=256 \
      --runtime="$runtime" --time_based --group_reporting --output-format=json >"$scratch/$label.json"
  "$here/bin/efuse-csi" umount "$scratch/mnt"
  wait "$pid" || true
  python3 - "$scratch/$label.json" "$label" "$idle" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))["jobs"][0]["read"]
p = j["clat_ns"]["percentile"]
print(f'{sys.argv[2]} {j["iops"]:.0f} {p["50.000000"]/1000:.0f} {p["99.000000"]/1000:.0f} {sys.argv[3]}')
PY
}

fixed=$(run_target fixed 2 2)
scaled=$(run_target scaled 2 "$max")
echo "| pool | IOPS | p50 µs | p99 µs | idle CPU ms / 10 s |"
echo "|---|---|---|---|---|"
for r in "$fixed" "$scaled"; do set -- $r; echo "| $1 | $2 | $3 | $4 | $5 |"; done
set -- $fixed; f_iops=$2 f_p99=$4
set -- $scaled; echo "scaled/fixed: IOPS $(python3 -c "print(round($2/$f_iops,2))")x, p99 $(python3 -c "print(round($4/$f_p99,2))")x (kernel $(uname -r), $(nproc) cores)"
