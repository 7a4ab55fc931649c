# shellcheck shell=bash disable=SC2034 # the TARGET_* variables are for bench/run.sh
# The targets a benchmark runs on, and how each one is brought up and taken down.
# Sourced by bench/run.sh; expects BENCH_* variables from it.

# One line per target: name, kind, data path, mount arguments ("-" for none).
#   kind       native: the backing directory itself; efuse: `bin/efuse-csi mount`; peer: libfuse's passthrough_hp,
#              whose arguments are `passthrough=on|off`, turned into the flags of the libfuse that was built;
#              pvc: a volume of `efuse-csi standalone` made, staged and published through CSI as for a PVC,
#              whose argument is the storage engine it asks for (StorageClass parameter engine)
#   data path  daemon: file data goes through the daemon (the latency run only uses these and native);
#              kernel: file data stays in the kernel (native, FUSE passthrough)
# Adding a target is adding a line here.
target_table() {
  cat <<'EOF'
native                      native  kernel  -
efuse-classic               efuse   daemon  --tier classic
efuse-passthrough           efuse   kernel  --tier passthrough
efuse-classic-writeback     efuse   daemon  --tier classic --writeback-cache
efuse-uring                 efuse   kernel  --tier passthrough --queues uring
efuse-uring-classic         efuse   daemon  --tier classic --queues uring
passthrough_hp              peer    daemon  passthrough=off
passthrough_hp-passthrough  peer    kernel  passthrough=on
pvc-btrfs                   pvc     kernel  btrfs
pvc-image                   pvc     kernel  image
pvc-quota-daemon            pvc     daemon  daemon
EOF
}

target_field() { # NAME FIELD(1-based: 2 kind, 3 data path, 4.. arguments)
  target_table | awk -v n="$1" -v f="$2" '$1 == n { if (f >= 4) { s = ""; for (i = 4; i <= NF; i++) s = s (i > 4 ? " " : "") $i; print s } else print $f }'
}

target_exists() { target_table | awk -v n="$1" '$1 == n { found = 1 } END { exit !found }'; }
target_kind() { target_field "$1" 2; }
target_datapath() { target_field "$1" 3; }
target_args() { local a; a=$(target_field "$1" 4); [ "$a" = "-" ] && a=""; printf '%s' "$a"; }

# Whether the efuse CLI knows --queues (issue: per-core queues). Probed once by run.sh.
BENCH_EFUSE_HAS_QUEUES=${BENCH_EFUSE_HAS_QUEUES:-0}

# State of the target that is up: the pid of its daemon (empty for native) and where workloads run.
TARGET_PID=""
TARGET_DIR=""
TARGET_MNT=""
# For a pvc target: the CSI volume id and the name of the target that is up.
TARGET_VOLUME=""
TARGET_PVC=""

# target_up NAME BACKING MOUNTPOINT LOG [FILES]: makes the target serve BACKING and sets TARGET_DIR to where
# workloads run. Returns non-zero (with a message on stderr) when the target does not come up. FILES (glob
# patterns in BACKING, empty: all of it) is what the workload uses of BACKING: a pvc target starts empty, as a
# new PVC does, and gets a copy of just those.
target_up() {
  local name=$1 backing=$2 mnt=$3 log=$4 kind args
  kind=$(target_kind "$name")
  args=$(target_args "$name")
  TARGET_PID="" TARGET_MNT="" TARGET_DIR=""
  case $kind in
    native)
      TARGET_DIR=$backing
      return 0 ;;
    efuse)
      # With per-core queues in the CLI, `auto` may pick io_uring: the /dev/fuse targets ask for it by name.
      if [ "$BENCH_EFUSE_HAS_QUEUES" = 1 ] && [[ " $args " != *" --queues "* ]]; then
        args="$args --queues dev"
      fi
      mkdir -p "$mnt"
      # shellcheck disable=SC2086 # args is a list of words from the target table
      "$BENCH_EFUSE_BIN" mount --backing "$backing" "$mnt" $args >"$log" 2>&1 &
      TARGET_PID=$! ;;
    pvc)
      pvc_up "$name" "$backing" "$mnt" "$log" "$args" "${5:-}"
      return ;;
    peer)
      mkdir -p "$mnt"
      args=$(peer_flags "$args") || return 1
      # shellcheck disable=SC2086
      "$BENCH_PEER_BIN" --foreground $args "$backing" "$mnt" >"$log" 2>&1 &
      TARGET_PID=$! ;;
    *)
      echo "bench: target $name has unknown kind '$kind'" >&2
      return 1 ;;
  esac
  TARGET_MNT=$mnt
  local deadline=$((SECONDS + BENCH_MOUNT_TIMEOUT))
  until mountpoint -q "$mnt"; do
    if ! kill -0 "$TARGET_PID" 2>/dev/null; then
      wait "$TARGET_PID"; local rc=$?
      echo "bench: $name exited with status $rc before $mnt was mounted; its log ($log):" >&2
      tail -n 20 "$log" | sed 's/^/  | /' >&2
      TARGET_PID="" TARGET_MNT=""
      return 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      echo "bench: $name did not mount $mnt within ${BENCH_MOUNT_TIMEOUT}s; log: $log" >&2
      target_down "$name"
      return 1
    fi
    sleep 0.05
  done
  TARGET_DIR=$mnt
}

# target_down NAME: stops the daemon (SIGTERM unmounts cleanly) and waits, with a bound, until it has
# exited and the mount is gone. Falls back to a lazy unmount and SIGKILL, and then says so.
target_down() {
  local name=$1 rc=0
  if [ -n "$TARGET_PVC" ]; then
    pvc_down "$name"
    return
  fi
  if [ -n "$TARGET_PID" ]; then
    kill -TERM "$TARGET_PID" 2>/dev/null
    local deadline=$((SECONDS + BENCH_MOUNT_TIMEOUT))
    while kill -0 "$TARGET_PID" 2>/dev/null; do
      if [ $SECONDS -ge $deadline ]; then
        echo "bench: $name (pid $TARGET_PID) did not exit within ${BENCH_MOUNT_TIMEOUT}s of SIGTERM; killing it" >&2
        kill -KILL "$TARGET_PID" 2>/dev/null
        rc=1
        break
      fi
      sleep 0.05
    done
    wait "$TARGET_PID" 2>/dev/null
  fi
  if [ -n "$TARGET_MNT" ] && mountpoint -q "$TARGET_MNT"; then
    echo "bench: $name left $TARGET_MNT mounted after its daemon exited; unmounting it lazily" >&2
    umount -l "$TARGET_MNT" || true
    rc=1
  fi
  TARGET_PID="" TARGET_MNT="" TARGET_DIR=""
  return $rc
}

# target_describe NAME LOG: one line saying what really ran (the daemon's negotiation, for eFuse).
target_describe() {
  local name=$1 log=$2 kind line args
  kind=$(target_kind "$name")
  args=$(target_args "$name")
  case $kind in
    native) echo "the backing directory itself ($(findmnt -n -o FSTYPE,SOURCE -T "$BENCH_SCRATCH" | tr -s " "))" ;;
    efuse)
      # Once FUSE INIT is done the daemon logs the protocol and the tier it really runs, as
      # "FUSE 7.x, tier=..." (or "negotiated FUSE 7.x, tier=..."); give it a moment to flush.
      local deadline=$((SECONDS + 5)) detail
      until line=$(grep -oE '(negotiated )?FUSE 7\.[0-9]+, tier=.*' "$log" 2>/dev/null | head -n 1) && [ -n "$line" ]; do
        [ $SECONDS -ge $deadline ] && { echo "unknown: the daemon logged no 'FUSE 7.x, tier=' line"; return; }
        sleep 0.05
      done
      detail=$(grep -oE '(kernel offers 7\.[0-9]+)|passthrough=[a-z]+|writeback=[a-z]+|queues=[a-z]+' "$log" | sort -u | paste -sd, - | sed 's/,/, /g')
      echo "$line${detail:+ ($detail)}" ;;
    pvc)
      local served
      served=$(grep -oE '^volume [^ ]+: .*' "$log" | tail -n 1 | cut -d' ' -f3-)
      echo "efuse-csi standalone --engine $args, CreateVolume (engine=$args), NodeStage, NodePublish: ${served:-unknown: the client logged no condition}; volumes on $(csi_backing)" ;;
    peer) echo "libfuse $BENCH_PEER_VERSION example passthrough_hp --foreground$(f=$(peer_flags "$args"); echo "${f:+ $f}") ($args$([ "$BENCH_PEER_PASSTHROUGH" = none ] && echo ": this libfuse has no FUSE passthrough"))" ;;
  esac
}

# pvc_bytes FILES...: the size to ask for, in whole MiB: what the workload brings, as much again, a quarter of
# it and 256 MiB. btrfs keeps a copied file's large extents whole until every block of them is rewritten, so
# random overwrites hold up to the data's size again until then, and a volume with only a quarter to spare
# answered W3's writes with EDQUOT; the other engines get the same size, so that only the engine differs. At
# least 1 GiB, so that --image-fs auto gives every image volume the same filesystem. BENCH_PVC_BYTES sets it.
pvc_bytes() {
  if [ -n "${BENCH_PVC_BYTES:-}" ]; then echo "$BENCH_PVC_BYTES"; return; fi
  local data=0
  [ $# = 0 ] || data=$(du -cb --apparent-size "$@" | awk 'END { print $1 }')
  awk -v d="$data" 'BEGIN { b = d * 2.25 + 256 * 2^20; if (b < 2^30) b = 2^30; printf "%.0f", int((b + 2^20 - 1) / 2^20) * 2^20 }'
}

# pvc_up NAME BACKING MOUNTPOINT LOG ENGINE FILES: a driver of its own, a volume of the engine, staged and
# published at MOUNTPOINT, and the workload's files of BACKING copied in through the published path, as an
# application would fill its PVC. The copy is flushed and the caches dropped afterwards, so the workload starts
# from the same cold cache as on native; the workloads then warm or drop as they do for every target.
pvc_up() {
  local name=$1 backing=$2 mnt=$3 log=$4 engine=$5 globs=$6 files=() g bytes
  if [ -n "$globs" ]; then
    for g in $globs; do
      # shellcheck disable=SC2206 # the pattern is expanded here on purpose
      local matched=("$backing"/$g)
      [ -e "${matched[0]}" ] || { echo "bench: $name: no file $g in $backing to copy into the volume" >&2; return 1; }
      files+=("${matched[@]}")
    done
  else
    shopt -s nullglob dotglob; files=("$backing"/*); shopt -u nullglob dotglob
  fi
  bytes=$(pvc_bytes "${files[@]}")
  csi_start "${mnt%/*}/$name.csi" "$engine" "$log" $((bytes + (4 << 30))) || return 1
  TARGET_PVC=$name TARGET_PID=$CSI_PID
  echo "bench: $name: CreateVolume of $bytes bytes, engine=$engine" >>"$log"
  if ! TARGET_VOLUME=$(csi_client up "$CSI_SOCK" "bench-$name" "$bytes" "$engine" "$CSI_HOME/staging" "$mnt" 2>>"$log"); then
    echo "bench: $name: the volume did not come up through CSI; log ($log):" >&2
    tail -n 20 "$log" | sed 's/^/  | /' >&2
    TARGET_VOLUME=""; pvc_down "$name"; return 1
  fi
  TARGET_MNT=$mnt
  if ! mountpoint -q "$mnt"; then
    echo "bench: $name: NodePublishVolume answered OK but $mnt is not a mount point; log: $log" >&2
    pvc_down "$name"; return 1
  fi
  if [ ${#files[@]} -gt 0 ]; then
    local start=$SECONDS
    if ! cp -r --sparse=never --reflink=never -t "$mnt" "${files[@]}" 2>>"$log"; then
      echo "bench: $name: copying the workload's files into the volume failed; log: $log" >&2
      pvc_down "$name"; return 1
    fi
    drop_caches
    echo "bench: $name: copied ${#files[@]} files ($(du -cb --apparent-size "${files[@]}" | awk 'END { print $1 }') bytes) in $((SECONDS - start))s" >>"$log"
  fi
  TARGET_DIR=$mnt
}

# pvc_down NAME: as kubelet and the provisioner when the pod and the claim go: unpublish, unstage, delete; then
# the driver stops and what it was given goes (the btrfs included).
pvc_down() {
  local name=$1 rc=0
  if [ -n "$TARGET_VOLUME" ]; then
    csi_client down "$CSI_SOCK" "$TARGET_VOLUME" "$CSI_HOME/staging" "$TARGET_MNT" 2>&1 |
      sed "s/^/bench: $name: /" >&2
    [ "${PIPESTATUS[0]}" = 0 ] || rc=1
  fi
  csi_stop || rc=1
  TARGET_PID="" TARGET_MNT="" TARGET_DIR="" TARGET_VOLUME="" TARGET_PVC=""
  return $rc
}
