# shellcheck shell=bash
# `efuse-csi standalone` as the bench uses it: one driver per target with its own state directory and backing
# root, and CsiStage (test sources) making the calls the provisioner and kubelet make for a PVC. Sourced by
# bench/run.sh (the pvc-* targets) and bench/snapshot.sh; expects REPO, BENCH_EFUSE_BIN and BENCH_MOUNT_TIMEOUT.

CSI_JAVA=${CSI_JAVA:-${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java}
CSI_CLASSPATH=""
# The driver that is up: its pid, socket, home (state, backing root, staging, btrfs image) and btrfs loop device.
CSI_PID="" CSI_SOCK="" CSI_HOME="" CSI_LOOP=""

# csi_prepare: finds the client and its classpath, or says what to build. The dependency classpath comes from
# Maven once (offline, from the local repository) and is kept next to the build it belongs to.
csi_prepare() {
  local classes=$REPO/csi-driver/target/test-classes cache=$REPO/csi-driver/target/bench-test.classpath
  [ -x "$CSI_JAVA" ] || { echo "bench: no Java at $CSI_JAVA (set JAVA_HOME to a Java 25)" >&2; return 1; }
  if [ ! -f "$classes/io/efuse/csi/csi/CsiStage.class" ]; then
    echo "bench: the CSI client is not built ($classes/io/efuse/csi/csi/CsiStage.class is missing):" \
      "run ./mvnw -pl csi-driver -DskipTests package (-DskipTests still compiles the test sources)" >&2
    return 1
  fi
  if [ ! -s "$cache" ] || [ "$REPO/csi-driver/pom.xml" -nt "$cache" ] || [ "$REPO/pom.xml" -nt "$cache" ]; then
    echo "bench: writing the test classpath to $cache (mvn -o dependency:build-classpath)" >&2
    if ! (cd "$REPO" && ./mvnw -B -q -o -pl csi-driver dependency:build-classpath -Dmdep.includeScope=test \
          -Dmdep.outputFile="$cache.tmp" >"$cache.log" 2>&1) || [ ! -s "$cache.tmp" ]; then
      echo "bench: could not get the test classpath from Maven offline; its output is in $cache.log" >&2
      rm -f "$cache.tmp"
      return 1
    fi
    mv "$cache.tmp" "$cache"
  fi
  CSI_CLASSPATH=$classes:$REPO/csi-driver/target/classes:$(cat "$cache")
}

csi_client() { # ARGS... of CsiStage
  "$CSI_JAVA" --enable-native-access=ALL-UNNAMED -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Dorg.slf4j.simpleLogger.defaultLogLevel=error \
    -cp "$CSI_CLASSPATH" io.efuse.csi.csi.CsiStage "$@"
}

# csi_start HOME ENGINE LOG [BTRFS_BYTES]: starts standalone with HOME/state and HOME/root. For the btrfs engine the
# root is a btrfs made here: on a sparse file of BTRFS_BYTES in HOME through a loop device with direct I/O, so
# that its data is cached once, by btrfs, as on a disk. Returns non-zero, saying why, when the driver does not
# come up; what it made is then gone again.
csi_start() {
  local home=$1 engine=$2 log=$3 btrfs_bytes=${4:-$((8 << 30))}
  CSI_HOME=$home CSI_PID="" CSI_LOOP="" CSI_SOCK=""
  mkdir -p "$home/state" "$home/root" "$home/staging" || return 1
  if [ "$engine" = btrfs ]; then
    truncate -s "$btrfs_bytes" "$home/btrfs.img" &&
      CSI_LOOP=$(losetup --direct-io=on -f --show "$home/btrfs.img") &&
      mkfs.btrfs -q -f "$CSI_LOOP" >>"$log" 2>&1 &&
      mount "$CSI_LOOP" "$home/root" || {
        echo "bench: could not make a btrfs on ${CSI_LOOP:-a loop device over $home/btrfs.img} at $home/root; log: $log" >&2
        csi_stop; return 1
      }
  fi
  # A unix socket path has at most 107 bytes, which a deep --scratch could pass.
  # The socket's own directory (a short path: unix socket paths are limited), removed by csi_stop. Set only once
  # made, so that a failed mktemp never leaves csi_stop a directory to remove that it did not make.
  local sockdir
  sockdir=$(mktemp -d /tmp/efuse-bench-csi.XXXXXX) || { csi_stop; return 1; }
  CSI_SOCK=$sockdir/csi.sock
  "$BENCH_EFUSE_BIN" standalone --endpoint "unix://$CSI_SOCK" --node-id efuse-bench --state-dir "$home/state" \
    --backing-root "$home/root" --engine "$engine" >>"$log" 2>&1 &
  CSI_PID=$!
  local deadline=$((SECONDS + BENCH_MOUNT_TIMEOUT))
  until [ -S "$CSI_SOCK" ]; do
    if ! kill -0 "$CSI_PID" 2>/dev/null; then
      wait "$CSI_PID"; local rc=$?
      echo "bench: efuse-csi standalone (engine $engine) exited with status $rc before it listened on $CSI_SOCK; its log ($log):" >&2
      tail -n 20 "$log" | sed 's/^/  | /' >&2
      CSI_PID=""; csi_stop; return 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      echo "bench: efuse-csi standalone (engine $engine) did not listen on $CSI_SOCK within ${BENCH_MOUNT_TIMEOUT}s; log: $log" >&2
      csi_stop; return 1
    fi
    sleep 0.1
  done
}

# csi_stop: stops the driver and takes away everything csi_start made, including what a failed teardown left
# mounted or attached under HOME. Non-zero when something had to be forced.
csi_stop() {
  local rc=0
  if [ -n "$CSI_PID" ]; then
    kill -TERM "$CSI_PID" 2>/dev/null
    local deadline=$((SECONDS + BENCH_MOUNT_TIMEOUT))
    while kill -0 "$CSI_PID" 2>/dev/null; do
      if [ $SECONDS -ge $deadline ]; then
        echo "bench: efuse-csi standalone (pid $CSI_PID) did not exit within ${BENCH_MOUNT_TIMEOUT}s of SIGTERM; killing it" >&2
        kill -KILL "$CSI_PID" 2>/dev/null; rc=1; break
      fi
      sleep 0.05
    done
    wait "$CSI_PID" 2>/dev/null
  fi
  if [ -n "$CSI_HOME" ]; then
    local m left
    # Deepest first; the btrfs root itself is expected, anything else means a teardown failed.
    left=$(findmnt -rn -o TARGET | awk -v h="$CSI_HOME/" 'index($0, h) == 1' | sort -r)
    for m in $left; do
      if [ "$m" != "$CSI_HOME/root" ] || [ -z "$CSI_LOOP" ]; then
        echo "bench: $m was still mounted after the driver stopped; unmounting it lazily" >&2; rc=1
      fi
      umount "$m" 2>/dev/null || umount -l "$m"
    done
    local dev file
    while read -r dev file; do
      [[ $file == "$CSI_HOME/"* ]] || continue
      [ "$dev" = "$CSI_LOOP" ] || { echo "bench: loop device $dev ($file) was still attached; detaching it" >&2; rc=1; }
      losetup -d "$dev"
    done < <(losetup -nl -O NAME,BACK-FILE 2>/dev/null)
    rm -rf "$CSI_HOME"
  fi
  [ -z "$CSI_SOCK" ] || rm -rf "$(dirname "$CSI_SOCK")"
  CSI_PID="" CSI_SOCK="" CSI_HOME="" CSI_LOOP=""
  return $rc
}

# csi_backing: what the volumes of the driver that is up live on, e.g. "xfs on /dev/loop3".
csi_backing() {
  local root=$CSI_HOME/root
  findmnt -rn -o TARGET,FSTYPE,SOURCE | awk -v r="$root" '$1 == r || index($1, r "/") == 1 { print $2 " on " $3 }' |
    sed 's#/dev/loop[0-9]*#a loop device#' | sort -u | paste -sd, - | sed 's/,/, /g' |
    { read -r line; echo "${line:-$(findmnt -n -o FSTYPE -T "$root") directory}"; }
}
