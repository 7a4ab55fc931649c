#!/usr/bin/env bash
# Times CreateSnapshot, CreateVolume from that snapshot (restore) and CreateVolume from the volume (clone) through
# CSI on each storage engine, with a volume holding 1 GiB in 10,000 files, and prints a table of seconds per call.
# See docs/benchmarks.md.
set -uo pipefail

BENCH_HOME=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
REPO=$(cd "$BENCH_HOME/.." && pwd)

usage() {
  cat <<EOF
usage: bench/snapshot.sh [options]

  --engines LIST    comma separated, from: btrfs,image,daemon (default: all three)
  --files N         files in the source volume (default 10000)
  --bytes BYTES     bytes of data in them, split evenly (default 1073741824, 1 GiB)
  --scratch DIR     where the backing roots live (default /var/tmp/efuse-bench); a btrfs is made there on a
                    sparse file for the btrfs engine
  --results DIR     where results.md and the logs go (default bench/results/snapshot-<UTC timestamp>)
  -h, --help        this text

Needs root, the built artifact and test classes (./mvnw -pl csi-driver -DskipTests package), losetup and,
for btrfs, mkfs.btrfs.
EOF
}

die() { echo "snapshot: $*" >&2; exit 2; }

engines=btrfs,image,daemon files=10000 bytes=$((1 << 30)) scratch=/var/tmp/efuse-bench results=""
while [ $# -gt 0 ]; do
  case $1 in
    --engines) engines=${2:?--engines needs a list}; shift 2 ;;
    --files) files=${2:?--files needs a number}; shift 2 ;;
    --bytes) bytes=${2:?--bytes needs a number}; shift 2 ;;
    --scratch) scratch=${2:?--scratch needs a directory}; shift 2 ;;
    --results) results=${2:?--results needs a directory}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
[[ $files =~ ^[1-9][0-9]*$ ]] || die "--files must be a positive number, got '$files'"
[[ $bytes =~ ^[1-9][0-9]*$ ]] || die "--bytes must be a positive number, got '$bytes'"
IFS=, read -r -a engine_list <<<"$engines"
for e in "${engine_list[@]}"; do
  case $e in btrfs|image|daemon) ;; *) die "unknown engine '$e' (known: btrfs,image,daemon)" ;; esac
done

[ "$(id -u)" = 0 ] || die "needs root: the driver mounts volumes"
BENCH_EFUSE_BIN=${BENCH_EFUSE_BIN:-$REPO/bin/efuse-csi}
BENCH_MOUNT_TIMEOUT=${BENCH_MOUNT_TIMEOUT:-30}
[ -f "${EFUSE_CSI_JAR:-$REPO/csi-driver/target/efuse-csi.jar}" ] || die "the artifact is not built: run ./mvnw -pl csi-driver -DskipTests package"
[ -e /dev/fuse ] || die "/dev/fuse is missing (modprobe fuse)"
command -v losetup >/dev/null || die "losetup is missing (apt-get install mount)"
if [[ ",$engines," == *,btrfs,* ]]; then
  command -v mkfs.btrfs >/dev/null || die "the btrfs engine needs mkfs.btrfs (apt-get install btrfs-progs)"
fi
# shellcheck source=bench/lib/csi.sh
. "$BENCH_HOME/lib/csi.sh"
csi_prepare || die "the CSI client of the test sources is not usable"

results=${results:-$BENCH_HOME/results/snapshot-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$results" "$scratch" || die "cannot create $results or $scratch"
scratch=$(cd "$scratch" && pwd)
case $(stat -f -c %T "$scratch") in
  tmpfs|fuseblk|fuse) die "scratch $scratch is on $(stat -f -c %T "$scratch"): put it on a disk filesystem (--scratch)" ;;
esac
exec 2> >(tee -a "$results/run.log" >&2)

# The volumes hold the data with room for each filesystem's metadata; every new volume asks for the same size.
vol_bytes=$(( (bytes * 3 / 2 + (512 << 20)) / (1 << 20) * (1 << 20) ))
trap 'csi_stop >/dev/null 2>&1' EXIT
trap 'exit 130' INT TERM

# tree_sum DIR: "FILES BYTES" of the regular files under DIR.
tree_sum() { find "$1" -type f -printf '%s\n' | awk '{ n++; s += $1 } END { printf "%d %.0f", n, s }'; }

# same_tree A B: the same files and sizes, and every 500th file byte for byte.
same_tree() {
  local a=$1 b=$2 f i=0
  [ "$(tree_sum "$a")" = "$(tree_sum "$b")" ] || { echo "files and bytes: $(tree_sum "$a") in the source, $(tree_sum "$b") in the copy"; return 1; }
  while read -r f; do
    if [ $((i++ % 500)) = 0 ]; then cmp -s "$a/$f" "$b/$f" || { echo "$f differs"; return 1; }; fi
  done < <(cd "$a" && find . -type f | sort)
}

declare -A took checked
# one_engine ENGINE: a driver, the source volume filled, the three calls timed, the copies checked, all deleted.
one_engine() {
  local e=$1 log=$results/$1.log home id out call secs vid snap="" restored="" cloned=""
  home=$(mktemp -d "$scratch/snapshot-$e.XXXXXX") || return 1
  csi_start "$home/csi" "$e" "$log" $((4 * vol_bytes + (4 << 30))) || { rmdir "$home"; return 1; }
  local pub=$home/pods
  echo "snapshot: $e: CreateVolume of $vol_bytes bytes, filling it with $bytes bytes in $files files" >&2
  id=$(csi_client up "$CSI_SOCK" "snap-src-$e" "$vol_bytes" "$e" "$CSI_HOME/staging/src" "$pub/src" 2>>"$log") ||
    { echo "snapshot: $e: the source volume did not come up; log: $log" >&2; tail -n 5 "$log" >&2; csi_stop; rm -rf "$home"; return 1; }
  grep -E '^volume ' "$log" | tail -n 1 | sed "s/^/snapshot: $e: /" >&2
  local start=$EPOCHREALTIME
  csi_client fill "$pub/src/data" "$files" "$bytes" 2>>"$log" && sync ||
    { echo "snapshot: $e: filling the volume failed; log: $log" >&2; csi_stop; rm -rf "$home"; return 1; }
  echo "snapshot: $e: filled in $(awk -v s="$start" -v e="$EPOCHREALTIME" 'BEGIN { printf "%.1f", e - s }')s (untimed); timing" >&2
  out=$(csi_client times "$CSI_SOCK" "$id" "$vol_bytes" "$e" "snap-$e" 2>>"$log")
  local rc=$?
  while read -r call secs vid; do
    [ -n "$call" ] || continue
    took[$e,$call]=$secs
    case $call in snapshot) snap=$vid ;; restore) restored=$vid ;; clone) cloned=$vid ;; esac
    echo "snapshot: $e: $call $secs s" >&2
  done <<<"$out"
  [ $rc = 0 ] || { echo "snapshot: $e: timing failed; log: $log" >&2; tail -n 5 "$log" | sed 's/^/  | /' >&2; }
  # Untimed: what the new volumes hold must be the source's data, or the times are of a broken copy.
  local v what
  for what in restore clone; do
    v=$([ $what = restore ] && echo "$restored" || echo "$cloned")
    [ -n "$v" ] || { checked[$e,$what]="not made"; continue; }
    if csi_client attach "$CSI_SOCK" "$v" "$CSI_HOME/staging/$what" "$pub/$what" 2>>"$log"; then
      if why=$(same_tree "$pub/src/data" "$pub/$what/data"); then checked[$e,$what]=same; else checked[$e,$what]="DIFFERENT: $why"; fi
    else
      checked[$e,$what]="could not be staged"
    fi
    csi_client down "$CSI_SOCK" "$v" "$CSI_HOME/staging/$what" "$pub/$what" 2>>"$log" || echo "snapshot: $e: deleting the $what failed; log: $log" >&2
  done
  [ -z "$snap" ] || csi_client delete-snapshot "$CSI_SOCK" "$snap" 2>>"$log" || echo "snapshot: $e: DeleteSnapshot failed; log: $log" >&2
  csi_client down "$CSI_SOCK" "$id" "$CSI_HOME/staging/src" "$pub/src" 2>>"$log" || echo "snapshot: $e: deleting the source failed; log: $log" >&2
  csi_stop || echo "snapshot: $e: the driver left something behind (cleaned up); log: $log" >&2
  rm -rf "$home"
  return $rc
}

failures=0
for e in "${engine_list[@]}"; do
  one_engine "$e" || failures=$((failures + 1))
done

{
  echo "# Snapshot, restore and clone through CSI, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "- kernel: $(uname -r), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) at the end"
  echo "- scratch: $scratch ($(findmnt -n -o FSTYPE,SOURCE -T "$scratch" | tr -s ' '))"
  echo "- source volume: $vol_bytes bytes, holding $bytes bytes in $files files (100 per directory), published and synced"
  echo "- commit: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo
  echo "Seconds from request to answer (a local store answers when the data is in place):"
  echo
  echo "| engine | CreateSnapshot | restore (CreateVolume from the snapshot) | clone (CreateVolume from the volume) | restored data | cloned data |"
  echo "|---|---|---|---|---|---|"
  for e in "${engine_list[@]}"; do
    echo "| $e | ${took[$e,snapshot]:-failed} | ${took[$e,restore]:-failed} | ${took[$e,clone]:-failed} | ${checked[$e,restore]:-–} | ${checked[$e,clone]:-–} |"
  done
} >"$results/results.md"
cat "$results/results.md"
echo "snapshot: wrote $results/results.md" >&2
[ $failures = 0 ] || { echo "snapshot: $failures engines failed" >&2; exit 1; }
