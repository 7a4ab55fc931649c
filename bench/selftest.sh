#!/usr/bin/env bash
# Checks the benchmark harness without measuring anything: fio JSON parsing against recorded output, the
# report (table, CSV, chart) against a fixture with hand-computed figures, the clear refusals of run.sh,
# and M1's program. Runs in seconds; not part of the Maven test suite.
# shellcheck disable=SC2016 # the checks below are strings that eval expands when they run
set -uo pipefail
here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
data=$here/testdata
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0

check() { # NAME COMMAND...: passes when COMMAND succeeds
  local name=$1; shift
  if "$@" >"$tmp/out" 2>&1; then
    passed=$((passed + 1)); echo "ok   $name"
  else
    failed=$((failed + 1)); echo "FAIL $name"; sed 's/^/     | /' "$tmp/out"
  fi
}

same() { [ "$1" = "$2" ] || { echo "expected: $2"; echo "     got: $1"; return 1; }; }
metrics() { /usr/bin/python3 "$here/lib/fio_metrics.py" "$@" | tr '\t' '|' | paste -sd ' ' -; }

# Expected figures read off the recorded JSON by hand: read.iops + write.iops, (read + write bw_bytes)/1e6,
# clat_ns percentiles 50/99/99.9 divided by 1000.
check "fio IOPS of a 2-job randrw run is read + write of the group" \
  eval 'same "$(metrics iops "$data/fio/randrw-2jobs.json" W1)" "W1|IOPS|higher|84614.2"'
check "fio bandwidth is read + write bytes per second in MB/s" \
  eval 'same "$(metrics mbps "$data/fio/randrw-2jobs.json" W3)" "W3|MB/s|higher|346.58"'
check "fio latency gives p50, p99 and p99.9 of reads in microseconds" \
  eval 'same "$(metrics clat "$data/fio/randread-latency.json" "")" "p50|us|lower|132.096 p99|us|lower|7372.8 p99.9|us|lower|19791.9"'
{ echo "fio: file hash not empty on exit"; cat "$data/fio/randrw-2jobs.json"; } >"$tmp/noisy.json"
check "fio notes printed before the JSON are skipped" \
  eval 'same "$(metrics iops "$tmp/noisy.json" W1)" "W1|IOPS|higher|84614.2"'
sed 's/"error" : 0/"error" : 5/' "$data/fio/randrw-2jobs.json" >"$tmp/error.json"
check "a fio job that reported an error is refused" \
  eval '! /usr/bin/python3 "$here/lib/fio_metrics.py" iops "$tmp/error.json" W1 2>"$tmp/error.err" && grep -q "failed with error 5" "$tmp/error.err"'
echo '{"jobs": []}' >"$tmp/empty.json"
check "fio output without jobs is refused" eval '! metrics iops "$tmp/empty.json" W1'

mkdir "$tmp/report" && cp "$data"/report/*.tsv "$tmp/report/"
/usr/bin/python3 "$here/lib/report.py" "$tmp/report" >/dev/null 2>"$tmp/report.err"
check "report runs on the fixture" eval '[ -s "$tmp/report/results.md" ] || { cat "$tmp/report.err"; false; }'
row() { grep "^| $1 | $2 |" "$tmp/report/results.md"; }
check "ratio is target/native of the medians where higher is better" \
  eval 'row W1 "4k randrw" | grep -qF "**0.50×** 55.0k ±9%"'
check "ratio is native/target where lower is better (latency)" \
  eval 'row L1 p50 | grep -qF "**0.044×** 45.0 ±11%"'
check "R1 total is the per-run sum of its phases" \
  eval 'row R1 total | grep -qF "| 3.50 ±14% | **0.39×** 9.00 ±11% |"'
check "S1 scaling is 2 jobs / 1 job per run, without a ratio" \
  eval 'row S1 "2 jobs / 1 job" | grep -qF "| 1.95 ±3% | – | – |"'
check "a target with fewer runs than asked says so" \
  eval 'row W1 "4k randrw" | grep -qF "105k (1 of 2 runs)"'
check "a workload that failed on a target shows as failed" \
  eval 'row M1 create | grep -qF "| failed |"'
check "a target whose mounts negotiated different tiers is flagged" \
  eval 'grep -q "efuse-passthrough\*\*: NOT THE SAME IN EVERY MOUNT" "$tmp/report/results.md"'
check "results.md matches the reviewed copy" diff -u "$data/report/expected-results.md" "$tmp/report/results.md"
check "results.csv matches the reviewed copy" diff -u "$data/report/expected-results.csv" "$tmp/report/results.csv"
if command -v gnuplot >/dev/null; then
  check "chart.png is a PNG" eval '[ "$(head -c 8 "$tmp/report/chart.png" | od -An -tx1 | tr -d " \n")" = 89504e470d0a1a0a ]'
else
  echo "skip chart.png: gnuplot is not installed"
fi

refuses() { # EXPECTED-MESSAGE COMMAND...: the command exits 2 and says EXPECTED-MESSAGE
  local want=$1 rc; shift
  "$@" >"$tmp/refusal" 2>&1; rc=$?
  if [ $rc != 2 ] || ! grep -qF -- "$want" "$tmp/refusal"; then
    echo "exit $rc:"; cat "$tmp/refusal"; return 1
  fi
}
if [ "$(id -u)" = 0 ]; then
  if command -v setpriv >/dev/null && setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null; then
    check "run.sh refuses to run without root" \
      refuses "needs root" setpriv --reuid=65534 --regid=65534 --clear-groups "$here/run.sh" --quick
  fi
  check "run.sh refuses to run without fio" \
    refuses "fio is not installed" env BENCH_FIO=/nonexistent/fio "$here/run.sh" --targets native --quick
  check "run.sh refuses eFuse targets without the built artifact" \
    refuses "efuse-csi.jar is missing" env EFUSE_CSI_JAR=/nonexistent/efuse-csi.jar "$here/run.sh" --targets native,efuse-classic --quick
  check "run.sh refuses PVC targets without the built artifact" \
    refuses "efuse-csi.jar is missing" env EFUSE_CSI_JAR=/nonexistent/efuse-csi.jar "$here/run.sh" --targets native,pvc-btrfs --quick
  check "snapshot.sh refuses an unknown engine" refuses "unknown engine 'zfs'" "$here/snapshot.sh" --engines btrfs,zfs
  check "run.sh refuses an unknown target" refuses "unknown target 'nfs'" "$here/run.sh" --targets native,nfs
  check "run.sh refuses an unknown workload" refuses "unknown workload 'W9'" "$here/run.sh" --workloads W1,W9
  check "run.sh needs native among the targets" refuses "must include native" "$here/run.sh" --targets efuse-classic

  if command -v gcc >/dev/null; then
    mkdir "$tmp/m1"
    check "M1's program creates, stats and unlinks, and says how fast" eval '
      gcc -O2 -Wall -Werror -o "$tmp/m1.bin" "$here/m1.c" && "$tmp/m1.bin" "$tmp/m1" 300 >"$tmp/m1.out" &&
      [ "$(cut -d" " -f1 "$tmp/m1.out" | paste -sd, -)" = create,stat_cold,stat_warm,unlink ] &&
      awk "\$2 <= 0 { exit 1 }" "$tmp/m1.out" && [ -z "$(ls -A "$tmp/m1")" ]'
  fi
else
  echo "skip run.sh refusals and M1: they need root (the refusal checks run the real preflight)"
fi

echo "bench selftest: $passed passed, $failed failed"
[ $failed = 0 ]
