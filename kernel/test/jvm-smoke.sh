#!/bin/sh
# Runs in the VM (run-vm): the eFuse daemon on the patched kernel. Measures the JVM's start under the
# emulator, mounts a volume with `efuse-csi mount`, uses it, and unmounts; one results line per step.
#   jvm-smoke.sh RESULTS_FILE REPO_DIR
results=$1 repo=$2
now() { cut -d' ' -f1 /proc/uptime; }
ms() { echo "($2 - $1) * 1000 / 1" | bc; }
line() { echo "$1|$2|$3|$4" >> "$results"; echo "jvm-smoke: $2 $1: $4"; }
export JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64

t=$(now)
if v=$("$JAVA_HOME/bin/java" -version 2>&1); then
  line jvm_starts PASS "$(ms "$t" "$(now)")" "java -version: $(echo "$v" | head -1)"
else
  line jvm_starts FAIL "$(ms "$t" "$(now)")" "java -version failed: $(echo "$v" | head -1)"; exit 0
fi

mkdir -p /tmp/backing /tmp/vol
echo hello > /tmp/backing/greeting
t=$(now)
"$repo/bin/efuse-csi" mount --backing /tmp/backing /tmp/vol --timeout 0 --kernel-cache off > /tmp/daemon.log 2>&1 &
daemon=$!
i=0
while ! grep -qs " /tmp/vol fuse" /proc/mounts; do
  i=$((i + 1)); if [ $i -gt 1200 ] || ! kill -0 $daemon 2>/dev/null; then break; fi; sleep 0.1
done
if ! grep -qs " /tmp/vol fuse" /proc/mounts; then
  line daemon_mounts FAIL "$(ms "$t" "$(now)")" "no mount: $(tail -5 /tmp/daemon.log | tr '\n' ' ')"; exit 0
fi
line daemon_mounts PASS "$(ms "$t" "$(now)")" "efuse-csi mount up: $(head -3 /tmp/daemon.log | tr '\n' ' ')"
grep -q "in-kernel cache off" /tmp/daemon.log && s=PASS || s=FAIL
line kernel_cache_off_is_honoured $s 0 "$(grep -m1 'in-kernel cache' /tmp/daemon.log)"

t=$(now)
ok=PASS msg=""
[ "$(cat /tmp/vol/greeting)" = hello ] || { ok=FAIL; msg="$msg read;"; }
echo world > /tmp/vol/new && [ "$(cat /tmp/backing/new)" = world ] || { ok=FAIL; msg="$msg write;"; }
mkdir /tmp/vol/d && mv /tmp/vol/new /tmp/vol/d/moved && [ -f /tmp/backing/d/moved ] || { ok=FAIL; msg="$msg rename;"; }
rm /tmp/vol/d/moved && rmdir /tmp/vol/d && [ ! -e /tmp/backing/d ] || { ok=FAIL; msg="$msg unlink;"; }
n=0; while [ $n -lt 200 ]; do : > /tmp/vol/f$n; n=$((n + 1)); done
[ "$(ls /tmp/vol | wc -l)" -eq 201 ] || { ok=FAIL; msg="$msg create 200;"; }
line daemon_serves_posix_basics $ok "$(ms "$t" "$(now)")" "read, write, mkdir, rename, unlink, rmdir, 200 creates, readdir${msg:+: failed$msg}"

t=$(now)
"$repo/bin/efuse-csi" umount /tmp/vol > /tmp/umount.log 2>&1
wait $daemon
rc=$?
[ $rc -eq 0 ] && s=PASS || s=FAIL
line daemon_unmounts $s "$(ms "$t" "$(now)")" "exit $rc; $(tail -2 /tmp/daemon.log | tr '\n' ' ')"
