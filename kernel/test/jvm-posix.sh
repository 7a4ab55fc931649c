#!/bin/sh
# Runs in the VM (run-vm): the daemon's POSIX comparison suite (csi-driver's fs tests that compare an eFuse mount
# with a native directory) on the efuse tier of the patched kernel. Every mount of the suite gets the cache
# program and entry/attribute timeouts of 0, so names and stats go through the program, whose answers the
# comparisons would catch if they were ever stale. The launcher's own JUnit report is kept next to the results.
#   jvm-posix.sh RESULTS_FILE REPO_DIR
results=$1 repo=$2
build=$repo/kernel/build
out_dir=$(dirname "$results")
now() { cut -d' ' -f1 /proc/uptime; }
ms() { echo "($2 - $1) * 1000 / 1" | bc; }
line() { echo "$1|$2|$3|$4" >> "$results"; echo "jvm-posix: $2 $1: $4"; }
export JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64
classes=$repo/csi-driver/target/classes:$repo/csi-driver/target/test-classes
suite="AttributeComparisonTest ConcurrentNamespaceTest EscapeTest FileDataComparisonTest LargeDirectoryTest
  NamespaceComparisonTest NonRootCallerTest WritebackCacheFileDataTest"
select=""
for c in $suite; do select="$select --select-class io.efuse.csi.fs.$c"; done

# The repository is read-only in the guest: the tests that compile C helpers get a writable module directory.
module=/tmp/posix-module
mkdir -p $module/src/test
cp -r "$repo/csi-driver/src/test/c" $module/src/test/

t=$(now)
# The launcher writes its XML report in the guest; it is copied to the results share once the run ends.
mkdir -p /tmp/junit
# shellcheck disable=SC2086
timeout 1500 "$JAVA_HOME/bin/java" -XX:TieredStopAtLevel=1 -Dbasedir=$module -Defuse.it.kernelCacheProgram="$build/bpf/efuse_cache.bpf.o" \
  -jar "$build/junit/console-standalone.jar" execute --disable-banner --disable-ansi-colors --details=tree --details-theme=ascii \
  --class-path "$classes:$(cat "$build/junit/classpath.txt")" $select --reports-dir /tmp/junit \
  > /tmp/posix.out 2>&1
rc=$?
cp /tmp/posix.out "$out_dir/posix.out"
cp /tmp/junit/TEST-junit-jupiter.xml "$out_dir/TEST-efuse-vm-posix-suite.xml" 2>/dev/null
summary=$(grep -E "tests (successful|failed|aborted|skipped)" /tmp/posix.out | tr -s ' ' | tr '\n' ';')
cache=$(grep -E "in-kernel cache LOOKUP" /tmp/posix.out | head -4 | tr '\n' ' ')
count() { grep -oE "[0-9]+ $1" /tmp/posix.out | tr -dc 0-9; }
# Skipped or aborted (an assumption failed) counts as not run: the suite must run in full here.
ok=FAIL
[ $rc -eq 0 ] && [ "$(count 'tests failed')" = 0 ] && [ "$(count 'tests skipped')" = 0 ] \
  && [ "$(count 'tests aborted')" = 0 ] && [ "$(count 'containers failed')" = 0 ] && ok=PASS
line posix_suite_on_efuse_tier $ok "$(ms "$t" "$(now)")" "exit $rc; $summary $cache"
