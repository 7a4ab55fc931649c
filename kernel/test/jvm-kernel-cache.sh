#!/bin/sh
# Runs in the VM (run-vm): the eFuse daemon's in-kernel cache on the patched kernel. A volume of 10,000 files is
# mounted with `efuse-csi mount --timeout 0` (every stat asks the kernel's FUSE layer again), the cache program is
# attached by the daemon, and a stat loop is counted twice: requests that reached the daemon (its metrics) and
# requests the program answered (its counters, also in the metrics). Then the program is detached from outside
# while the loop runs, and the loop after it must reach the daemon in full. M1 and a reduced R1 of bench/ run with
# the program attached and again detached: the difference is the upcalls it saved. One results line per case.
#   jvm-kernel-cache.sh RESULTS_FILE REPO_DIR
results=$1 repo=$2
build=$repo/kernel/build
now() { cut -d' ' -f1 /proc/uptime; }
ms() { echo "($2 - $1) * 1000 / 1" | bc; }
line() { echo "$1|$2|$3|$4" >> "$results"; echo "jvm-kernel-cache: $2 $1: $4"; }
export JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64
files=10000
backing=/tmp/kc-backing vol=/tmp/kc-vol port=9811

mkdir -p $backing/d $backing/m1 $vol
"$build/test/statloop" make $backing/d $files || { line kernel_cache_setup FAIL 0 "cannot create $files files"; exit 0; }
/bin/busybox ip link set lo up

# Sum of the samples of a metric whose labels contain every given label=value pair.
scrape() { timeout 30 /bin/busybox wget -q -O - "http://127.0.0.1:$port/metrics" 2>/dev/null; }
# A step that does not end within its bound fails, and the daemon's threads are kept for the report.
bounded() {
  timeout 600 "$@"; rc=$?
  if [ $rc -eq 124 ]; then
    echo "jvm-kernel-cache: $* did not end within 600 s; daemon threads in $out_dir/daemon-threads.txt"
    "$JAVA_HOME/bin/jcmd" $daemon Thread.print > "$out_dir/daemon-threads.txt" 2>&1
  fi
  return $rc
}
# Until the daemon started last ($daemon) serves its metrics on $port: at most 180 s, or until it exits.
await_metrics() {
  i=0
  until scrape | grep -q '^efuse_fuse_daemon_requests{'; do
    i=$((i + 1)); if [ $i -gt 1800 ] || ! kill -0 $daemon 2>/dev/null; then return; fi; sleep 0.1
  done
}
out_dir=$(dirname "$results")
trap 'cp /tmp/kc-*.log "$out_dir/" 2>/dev/null' EXIT
metric() {
  name=$1; shift
  echo "$snapshot" | awk -v name="$name" -v want="$*" '
    index($0, name "{") == 1 {
      n = split(want, w, " "); ok = 1
      for (i = 1; i <= n; i++) { split(w[i], kv, "="); if (index($0, kv[1] "=\"" kv[2] "\"") == 0) ok = 0 }
      if (ok) sum += $NF
    }
    END { printf "%d\n", sum }'
}
# LOOKUP+GETATTR that reached the daemon, and that the program answered, at this moment.
counts() {
  snapshot=$(scrape)
  up=$(( $(metric efuse_fuse_daemon_requests op=LOOKUP) + $(metric efuse_fuse_daemon_requests op=GETATTR) ))
  hit=$(( $(metric efuse_kernel_cache_requests op=LOOKUP outcome=hit) \
        + $(metric efuse_kernel_cache_requests op=GETATTR outcome=hit) ))
}

# R1 of bench/ on part of the JDK's sources (java.base/java/*: 1,599 files, 29 MB; all of src.zip takes too long
# under the emulator): unzip, find -type f twice, grep -rF an absent string, rm -rf. Sets r1_up (LOOKUP/GETATTR
# that reached the daemon), r1_hit (answered in the kernel), r1_s (seconds) and r1_ok (the tree was the zip's).
r1zip=$JAVA_HOME/lib/src.zip r1members='java.base/java/*'
r1() {
  counts; up0=$up hit0=$hit
  t0=$(now)
  r1_ok=1
  unzip -q "$r1zip" "$r1members" -d $vol/r1 > /tmp/kc-r1-unzip.log 2>&1; [ $? -le 1 ] || r1_ok=0
  n1=$(find $vol/r1 -type f | wc -l)
  n2=$(find $vol/r1 -type f | wc -l)
  got="$(find $vol/r1 -type f -exec cat {} + | wc -c) $n2"
  want=$(unzip -l "$r1zip" "$r1members" | awk 'END { print $1, $2 }')
  [ "$got" = "$want" ] && [ "$n1" = "$n2" ] || { r1_ok=0; echo "jvm-kernel-cache: R1 tree '$got', zip '$want', finds $n1/$n2"; }
  grep -rF efuse-absent-needle $vol/r1 > /dev/null; [ $? -eq 1 ] || r1_ok=0
  rm -rf $vol/r1 && [ ! -e $vol/r1 ] || r1_ok=0
  r1_s=$(echo "$(now) - $t0" | bc)
  counts
  r1_up=$((up - up0)) r1_hit=$((hit - hit0))
}

t=$(now)
"$repo/bin/efuse-csi" mount --backing $backing $vol --timeout 0 --kernel-cache auto \
  --kernel-cache-program "$build/bpf/efuse_cache.bpf.o" --metrics-address 127.0.0.1:$port > /tmp/kc-daemon.log 2>&1 &
daemon=$!
await_metrics
if ! grep -q "in-kernel cache active" /tmp/kc-daemon.log; then
  line kernel_cache_attaches FAIL "$(ms "$t" "$(now)")" "$(grep -m1 'in-kernel cache' /tmp/kc-daemon.log || tail -3 /tmp/kc-daemon.log | tr '\n' ' ')"
  "$repo/bin/efuse-csi" umount $vol > /dev/null 2>&1; wait $daemon; exit 0
fi
line kernel_cache_attaches PASS "$(ms "$t" "$(now)")" "$(grep -m1 'in-kernel cache' /tmp/kc-daemon.log)"

# Warm-up: the daemon's replies fill the maps.
"$build/test/statloop" stat $vol/d $files 1 > /dev/null
counts; up0=$up hit0=$hit
t=$(now)
out=$(bounded "$build/test/statloop" stat $vol/d $files 3); rc=$?
counts
dup=$((up - up0)) dhit=$((hit - hit0))
pct=$(echo "scale=2; 100 * $dhit / ($dhit + $dup + ($dhit + $dup == 0))" | bc)
ok=FAIL; [ $rc -eq 0 ] && [ "$(echo "$pct >= 99" | bc)" = 1 ] && ok=PASS
line stat_loop_served_in_kernel $ok "$(ms "$t" "$(now)")" "$((files * 3)) stats after a warm-up: $dhit LOOKUP/GETATTR answered in the kernel, $dup reached the daemon: $pct % in the kernel; $out"

# Names that do not exist: after one pass the program answers them as negative entries.
"$build/test/statloop" missing $vol/d 1000 1 > /dev/null
counts; snapshot0=$snapshot; neg0=$(metric efuse_kernel_cache_requests op=LOOKUP outcome=negative); lk0=$(metric efuse_fuse_daemon_requests op=LOOKUP)
t=$(now)
out=$(bounded "$build/test/statloop" missing $vol/d 1000 2); rc=$?
counts
dneg=$(( $(metric efuse_kernel_cache_requests op=LOOKUP outcome=negative) - neg0 ))
dlk=$(( $(metric efuse_fuse_daemon_requests op=LOOKUP) - lk0 ))
ok=FAIL; [ $rc -eq 0 ] && [ $dneg -ge 2000 ] && [ $dlk -eq 0 ] && ok=PASS
line negative_lookups_served_in_kernel $ok "$(ms "$t" "$(now)")" "2000 stats of missing names: $dneg negative answers in the kernel, $dlk LOOKUPs reached the daemon; $out"

# M1 (bench/m1.c) on the attached program: what reached the daemon and what was answered in the kernel.
m1files=2000
counts; up0=$up hit0=$hit
t=$(now)
echo "jvm-kernel-cache: M1 ($m1files files) starts"
m1=$(bounded "$build/test/m1" $vol/m1 $m1files 2>&1); rc=$?
counts
m1_up_attached=$((up - up0)) m1_hit=$((hit - hit0))
[ $rc -eq 0 ] && s=PASS || s=FAIL
line m1_attached $s "$(ms "$t" "$(now)")" "M1 with $m1files files: $m1_hit LOOKUP/GETATTR answered in the kernel, $m1_up_attached reached the daemon; $(echo $m1 | tr '\n' ' ')"

t=$(now)
echo "jvm-kernel-cache: R1 ($r1members) starts"
r1
r1_up_attached=$r1_up
[ $r1_ok = 1 ] && s=PASS || s=FAIL
line r1_attached $s "$(ms "$t" "$(now)")" "R1 on $r1members in $r1_s s: $r1_hit LOOKUP/GETATTR answered in the kernel, $r1_up reached the daemon"

# Detach from outside while the loop runs: every stat must still be right.
t=$(now)
"$build/test/statloop" stat $vol/d $files 2 > /tmp/kc-loop.out 2>&1 &
loop=$!
sleep 2
det=$("$build/test/efuse_detach" $daemon 2>&1); drc=$?
wait $loop; lrc=$?
ok=FAIL; [ $drc -eq 0 ] && [ $lrc -eq 0 ] && ok=PASS
line detach_mid_run_keeps_answers_right $ok "$(ms "$t" "$(now)")" "$det; $(cat /tmp/kc-loop.out)"

# Detached: the same loop reaches the daemon in full.
counts; up0=$up hit0=$hit
t=$(now)
out=$(bounded "$build/test/statloop" stat $vol/d $files 1); rc=$?
counts
dup=$((up - up0)) dhit=$((hit - hit0))
ok=FAIL; [ $rc -eq 0 ] && [ $dhit -eq 0 ] && [ $dup -ge $files ] && ok=PASS
line detached_loop_reaches_daemon $ok "$(ms "$t" "$(now)")" "$files stats detached: $dhit answered in the kernel, $dup LOOKUP/GETATTR reached the daemon; $out"

counts; up0=$up
t=$(now)
echo "jvm-kernel-cache: M1 ($m1files files) starts"
m1=$(bounded "$build/test/m1" $vol/m1 $m1files 2>&1); rc=$?
counts
m1_up_detached=$((up - up0))
[ $rc -eq 0 ] && s=PASS || s=FAIL
line m1_detached $s "$(ms "$t" "$(now)")" "M1 with $m1files files detached: $m1_up_detached LOOKUP/GETATTR reached the daemon (attached: $m1_up_attached, so $((m1_up_detached - m1_up_attached)) avoided); $(echo $m1 | tr '\n' ' ')"

t=$(now)
echo "jvm-kernel-cache: R1 ($r1members) starts"
r1
[ $r1_ok = 1 ] && [ $r1_hit -eq 0 ] && s=PASS || s=FAIL
line r1_detached $s "$(ms "$t" "$(now)")" "R1 on $r1members detached in $r1_s s: $r1_up LOOKUP/GETATTR reached the daemon (attached: $r1_up_attached, so $((r1_up - r1_up_attached)) avoided)"

t=$(now)
"$repo/bin/efuse-csi" umount $vol > /tmp/kc-umount.log 2>&1
wait $daemon
rc=$?
[ $rc -eq 0 ] && s=PASS || s=FAIL
line kernel_cache_daemon_unmounts $s "$(ms "$t" "$(now)")" "exit $rc; $(grep -E 'answered in the kernel|requests served' /tmp/kc-daemon.log | sed 's/.*INFO //' | tr '\n' ' ')"

# READ from the program's data map: on the classic tier (with passthrough, reads never reach FUSE), read 500 small
# files with O_DIRECT (every read asks FUSE; dropping caches instead would evict the inodes, the kernel would
# FORGET them and a forgotten node's data is deleted), then again: the second pass must be answered in the kernel,
# and be right.
# This mount names no program: it loads the copy the jar carries (built against the build machine's BTF with
# bpf/efuse_kernel.h), which is what a node running the driver image gets.
port=9812
t=$(now)
"$repo/bin/efuse-csi" mount --backing $backing $vol --tier classic --timeout 0 --kernel-cache auto \
  --metrics-address 127.0.0.1:$port > /tmp/kc-classic.log 2>&1 &
daemon=$!
await_metrics
"$build/test/statloop" read $vol/d 500 1 > /dev/null
snapshot=$(scrape)
rd0=$(metric efuse_fuse_daemon_requests op=READ) rh0=$(metric efuse_kernel_cache_requests op=READ outcome=hit)
out=$(bounded "$build/test/statloop" read $vol/d 500 1); rc=$?
snapshot=$(scrape)
drd=$(( $(metric efuse_fuse_daemon_requests op=READ) - rd0 )) drh=$(( $(metric efuse_kernel_cache_requests op=READ outcome=hit) - rh0 ))
ok=FAIL; [ $rc -eq 0 ] && [ $drh -gt 400 ] && [ $drd -eq 0 ] && grep -q "in-kernel cache active" /tmp/kc-classic.log && ok=PASS
line reads_served_in_kernel $ok "$(ms "$t" "$(now)")" "500 small files read again with O_DIRECT (classic tier, the jar's program): $drh READs answered in the kernel, $drd reached the daemon; $out; $(grep -m1 'in-kernel cache' /tmp/kc-classic.log | sed 's/.*INFO //')"
"$repo/bin/efuse-csi" umount $vol > /dev/null 2>&1
wait $daemon
