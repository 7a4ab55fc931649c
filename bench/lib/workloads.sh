# shellcheck shell=bash
# The workloads of docs/benchmarks.md. Sourced by bench/run.sh; expects BENCH_* variables from it.
#
# Each workload is a function wl_<ID> TARGET RUN DIR, DIR being where the target serves its backing
# directory. It records its figures with `record` and returns non-zero when the workload failed.
# W1-W4, S1 and L1 share the fio data files laid out once (natively) in BENCH_DATA; M1 and R1 get a
# fresh, empty backing directory per target and run.

workload_backing() { # ID -> "data" or "fresh"
  case $1 in
    W1|W2|W3|W4|S1|L1) echo data ;;
    M1|R1) echo fresh ;;
    *) return 1 ;;
  esac
}

workload_known() { workload_backing "$1" >/dev/null 2>&1; }

workload_files() { # ID -> the files of BENCH_DATA it uses (glob patterns), for targets that must be given a copy
  case $1 in
    W1|W4|S1|L1) echo w1.dat ;;
    W2) echo 'w2.*' ;;
    W3) echo 'w3.*' ;;
    *) echo "" ;;
  esac
}

workload_description() { # ID -> one line, with this invocation's sizes
  case $1 in
    W1) echo "one $BENCH_W1_SIZE file, 4 KiB random 70/30 read/write, 2 jobs, warm (read once through the target)" ;;
    W2) echo "$((BENCH_W2_FILES * 2)) files x 16 KiB ($BENCH_W2_FILES per job), 4 KiB random 70/30, 2 jobs, warm" ;;
    W3) echo "8 files x $BENCH_W3_FILESIZE, 128 KiB random 70/30, 1 job, warm" ;;
    W4) echo "sequential read of the $BENCH_W1_SIZE file, 1 MiB blocks, cold cache" ;;
    S1) echo "W1 with 1 job, then 2 jobs (scaling with cores)" ;;
    L1) echo "completion latency of single-threaded 4 KiB random reads the target has not cached (backing file in the page cache), for native and targets whose data goes through the daemon" ;;
    M1) echo "create $BENCH_M1_FILES empty files in one new directory, stat all cold (caches dropped), stat all warm, unlink all" ;;
    R1) echo "the JDK's src.zip${BENCH_R1_MEMBERS:+ (members $BENCH_R1_MEMBERS)}: unzip, find -type f cold and warm, grep -rF an absent string (reads every byte), rm -rf" ;;
  esac
}

# record RUN TARGET WORKLOAD PHASE UNIT BETTER VALUE
record() {
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$BENCH_RESULTS/measurements.tsv"
}

drop_caches() {
  sync
  echo 3 >/proc/sys/vm/drop_caches
}

# fio_run OUTPUT JOBNAME DIR ARGS...: one fio job with the options every workload shares.
fio_run() {
  local out=$1 name=$2 dir=$3; shift 3
  "$BENCH_FIO" --output-format=json --output="$out" --name="$name" --directory="$dir" \
      --ioengine=psync --iodepth=1 --group_reporting "$@" >"$out.stderr" 2>&1 || {
    local rc=$?
    echo "bench: fio $name in $dir exited with status $rc:" >&2
    sed 's/^/  | /' "$out.stderr" >&2
    # With --output fio keeps its own error lines to itself: say what its JSON reports.
    /usr/bin/python3 "$BENCH_HOME/lib/fio_metrics.py" iops "$out" - 2>&1 >/dev/null | sed 's/^/  | /' >&2
    return 1
  }
  [ -s "$out.stderr" ] || rm -f "$out.stderr"
}

# fio_record METRIC RUN TARGET WORKLOAD PHASE FILE
fio_record() {
  local metric=$1 run=$2 target=$3 workload=$4 phase=$5 file=$6 rows
  rows=$(/usr/bin/python3 "$BENCH_HOME/lib/fio_metrics.py" "$metric" "$file" "$phase") || return 1
  while IFS=$'\t' read -r p unit better value; do
    record "$run" "$target" "$workload" "$p" "$unit" "$better" "$value"
  done <<<"$rows"
}

raw() { echo "$BENCH_RESULTS/raw/$1-$2-r$3${4:+-$4}.json"; } # WORKLOAD TARGET RUN [SUFFIX]

# The shared fio files: w1.dat (W1, W4, S1, L1), w2.<job>.<n> (W2), w3.0.<n> (W3).
W1_ARGS() { echo --filename=w1.dat --size="$BENCH_W1_SIZE"; }
W2_ARGS() { echo --nrfiles="$BENCH_W2_FILES" --filesize=16k --numjobs=2; }
W3_ARGS() { echo --nrfiles=8 --filesize="$BENCH_W3_FILESIZE"; }

# layout_data WORKLOADS...: lays out the fio files the selected workloads need, natively, once.
layout_data() {
  local need_w1=0 need_w2=0 need_w3=0 w
  for w in "$@"; do
    case $w in W1|W4|S1|L1) need_w1=1 ;; W2) need_w2=1 ;; W3) need_w3=1 ;; esac
  done
  mkdir -p "$BENCH_DATA"
  local out=$BENCH_RESULTS/logs/layout
  # shellcheck disable=SC2046
  { [ $need_w1 = 0 ] || fio_run "$out-w1.json" w1 "$BENCH_DATA" --rw=write --bs=1m $(W1_ARGS) --create_only=1; } &&
  { [ $need_w2 = 0 ] || fio_run "$out-w2.json" w2 "$BENCH_DATA" --rw=write --bs=16k $(W2_ARGS) --create_only=1; } &&
  { [ $need_w3 = 0 ] || fio_run "$out-w3.json" w3 "$BENCH_DATA" --rw=write --bs=1m $(W3_ARGS) --create_only=1; } &&
  sync
}

# warm DIR GLOB: drop caches, then read the files once through the target, so that neither fio's
# layout nor a previous target leaves the page cache in a shape that favours one target.
warm() {
  local dir=$1 glob=$2
  drop_caches
  find "$dir" -maxdepth 1 -type f -name "$glob" -exec cat {} + >/dev/null
}

timed_fio_args() { echo --time_based --runtime="$1" --ramp_time="$BENCH_RAMP" --invalidate=0; }

# shellcheck disable=SC2046
wl_W1() {
  local t=$1 run=$2 dir=$3 out
  out=$(raw W1 "$t" "$run")
  warm "$dir" w1.dat &&
    fio_run "$out" w1 "$dir" --rw=randrw --rwmixread=70 --bs=4k --numjobs=2 $(W1_ARGS) \
      $(timed_fio_args "$BENCH_RUNTIME") &&
    fio_record iops "$run" "$t" W1 "4k randrw" "$out"
}

# shellcheck disable=SC2046
wl_W2() {
  local t=$1 run=$2 dir=$3 out
  out=$(raw W2 "$t" "$run")
  warm "$dir" 'w2.*' &&
    fio_run "$out" w2 "$dir" --rw=randrw --rwmixread=70 --bs=4k $(W2_ARGS) \
      $(timed_fio_args "$BENCH_RUNTIME") &&
    fio_record iops "$run" "$t" W2 "4k randrw" "$out"
}

# shellcheck disable=SC2046
wl_W3() {
  local t=$1 run=$2 dir=$3 out
  out=$(raw W3 "$t" "$run")
  warm "$dir" 'w3.*' &&
    fio_run "$out" w3 "$dir" --rw=randrw --rwmixread=70 --bs=128k $(W3_ARGS) \
      $(timed_fio_args "$BENCH_RUNTIME") &&
    fio_record mbps "$run" "$t" W3 "128k randrw" "$out"
}

# Cold sequential read: caches dropped, fio's own invalidation left on. Bounded by size, capped in time.
# shellcheck disable=SC2046
wl_W4() {
  local t=$1 run=$2 dir=$3 out
  out=$(raw W4 "$t" "$run")
  drop_caches &&
    fio_run "$out" w4 "$dir" --rw=read --bs=1m $(W1_ARGS) --runtime=$((BENCH_RUNTIME * 4)) &&
    fio_record mbps "$run" "$t" W4 "1m read, cold" "$out"
}

# Scaling: W1 with one job, then with two, on the same warm file.
# shellcheck disable=SC2046
wl_S1() {
  local t=$1 run=$2 dir=$3 jobs out
  warm "$dir" w1.dat || return 1
  for jobs in 1 2; do
    out=$(raw S1 "$t" "$run" "j$jobs")
    fio_run "$out" s1 "$dir" --rw=randrw --rwmixread=70 --bs=4k --numjobs=$jobs $(W1_ARGS) \
        $(timed_fio_args "$BENCH_RUNTIME_SHORT") &&
      fio_record iops "$run" "$t" S1 "$jobs job$([ $jobs = 1 ] || echo s)" "$out" || return 1
  done
}

# Latency of one request: single-threaded 4 KiB random reads of blocks the target has not cached
# (fio's random map reads each block at most once) while the backing file is in the page cache, so a
# FUSE target's figure is its round trip through the daemon and native's is a page cache hit.
# Only for native and targets whose data goes through the daemon.
# shellcheck disable=SC2046
wl_L1() {
  local t=$1 run=$2 dir=$3 out
  [ "$(target_datapath "$t")" = daemon ] || [ "$(target_kind "$t")" = native ] || return 0
  out=$(raw L1 "$t" "$run")
  drop_caches && cat "$BENCH_DATA/w1.dat" >/dev/null &&
    fio_run "$out" l1 "$dir" --rw=randread --bs=4k --numjobs=1 $(W1_ARGS) --io_size="$BENCH_L1_IO" \
      --invalidate=0 --runtime=$((BENCH_RUNTIME * 2)) --percentile_list=50:99:99.9 &&
    fio_record clat "$run" "$t" L1 "" "$out"
}

wl_M1() {
  local t=$1 run=$2 dir=$3 phase value out
  out=$BENCH_RESULTS/raw/M1-$t-r$run.txt
  "$BENCH_M1_BIN" "$dir" "$BENCH_M1_FILES" >"$out" || return 1
  while read -r phase value; do
    record "$run" "$t" M1 "${phase/_/ }" ops/s higher "$value"
  done <"$out"
}

# timed VAR COMMAND...: runs COMMAND and stores its wall time in seconds in VAR.
timed() {
  local __var=$1 start end; shift
  start=$EPOCHREALTIME
  "$@" || return 1
  end=$EPOCHREALTIME
  printf -v "$__var" '%s' "$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f", e - s }')"
}

r1_grep() { # grep exits 1 when nothing matched, which is what reading every byte for an absent string gives
  grep -rF -- 'efuse-bench-absent-needle' "$1" >/dev/null
  [ $? -le 1 ]
}

r1_unzip() { # unzip exits 1 for warnings (a filesystem that cannot set times); they go to the log
  # shellcheck disable=SC2086 # BENCH_R1_MEMBERS is a list of zip member patterns (empty: all)
  unzip -q "$BENCH_R1_ZIP" $BENCH_R1_MEMBERS -d "$1" >"$2" 2>&1
  [ $? -le 1 ] || { cat "$2" >&2; return 1; }
  [ -s "$2" ] || rm -f "$2"
}

r1_count() { find "$1" -type f | wc -l >"$2"; }

# r1_expected: "BYTES FILES" the zip (or the chosen members) unpacks to, from its own listing.
r1_expected() {
  # shellcheck disable=SC2086
  unzip -l "$BENCH_R1_ZIP" $BENCH_R1_MEMBERS | awk 'END { print $1, $2 }'
}

wl_R1() {
  local t=$1 run=$2 dir=$3 src=$3/src out unzip_s find_cold_s find_warm_s grep_s rm_s
  out=$BENCH_RESULTS/raw/R1-$t-r$run.txt
  timed unzip_s r1_unzip "$src" "$out.unzip.log" || return 1
  drop_caches
  timed find_cold_s r1_count "$src" "$out.cold" || return 1
  timed find_warm_s r1_count "$src" "$out.warm" || return 1
  # Untimed: the tree must be what the zip holds, or the figures measure a broken filesystem.
  local got want
  got="$(find "$src" -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%d", s }') $(cat "$out.warm")"
  want=$(r1_expected)
  if [ "$got" != "$want" ]; then
    echo "bench: R1 on $t unpacked bytes and files '$got', the zip holds '$want'" >&2
    return 1
  fi
  timed grep_s r1_grep "$src" || return 1
  timed rm_s rm -rf "$src" || return 1
  if [ "$(cat "$out.cold")" != "$(cat "$out.warm")" ] || [ "$(cat "$out.cold")" -eq 0 ]; then
    echo "bench: R1 on $t found $(cat "$out.cold") files cold and $(cat "$out.warm") warm" >&2
    return 1
  fi
  printf 'files %s\nunzip %s\nfind_cold %s\nfind_warm %s\ngrep %s\nrm %s\n' "$(cat "$out.cold")" \
    "$unzip_s" "$find_cold_s" "$find_warm_s" "$grep_s" "$rm_s" >"$out"
  rm -f "$out.cold" "$out.warm"
  record "$run" "$t" R1 "unzip" s lower "$unzip_s"
  record "$run" "$t" R1 "find, cold" s lower "$find_cold_s"
  record "$run" "$t" R1 "find, warm" s lower "$find_warm_s"
  record "$run" "$t" R1 "grep -r" s lower "$grep_s"
  record "$run" "$t" R1 "rm -rf" s lower "$rm_s"
}
