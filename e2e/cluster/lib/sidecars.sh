# shellcheck shell=bash
# The CSI sidecars of the test cluster, sourced by build-components. build_sidecars writes into $bin
#
#   csi-provisioner csi-resizer            their Go modules, at the versions of versions.env
#   csi-snapshotter snapshot-controller    external-snapshotter, whose client module also gives the
#                                          snapshot CRDs, copied into $cache/crds/snapshot
#   csi-node-driver-registrar livenessprobe
#                                          go/registrar and go/livenessprobe: stand-ins taking the same flags,
#                                          as neither upstream module is published on the Go module proxy
#
# Each is built from a wrapper module of go/ copied to $cache/src, because go install ignores (and refuses)
# the replace directives with which the sidecars pin their k8s.io dependencies.
#
# Every step ends in `|| return`, so that a failure stops the build whoever sources this and however.

sidecars_here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# The files whose content decides what build_sidecars builds, besides versions.env.
sidecars_recipe_files() {
  echo "$sidecars_here/lib/sidecars.sh"
  find "$sidecars_here/go/provisioner" "$sidecars_here/go/resizer" "$sidecars_here/go/snapshotter" \
    "$sidecars_here/go/registrar" "$sidecars_here/go/livenessprobe" -type f | LC_ALL=C sort
}

# sidecars_workdir NAME: a fresh scratch copy of go/NAME, whose path it prints.
sidecars_workdir() {
  local d=$cache/src/$1
  rm -rf "$d" && mkdir -p "$d" && cp -r "$sidecars_here/go/$1/." "$d/" && echo "$d"
}

# sidecars_replaces GOMOD: the replace directives of the go.mod file GOMOD as go mod edit -replace arguments,
# leaving out those to a directory: the module zip has no other module's directory, and the published
# module at the version GOMOD requires stands in for it.
sidecars_replaces() {
  awk '
    /^replace[ \t]*\($/ { block = 1; next }
    block && /^\)/ { block = 0; next }
    block || /^replace[ \t]/ {
      line = $0; sub(/\/\/.*/, "", line); sub(/^replace[ \t]+/, "", line)
      n = split(line, f, /[ \t]+/); i = 1; if (f[1] == "") i = 2
      old = f[i++]; if (f[i] != "=>") old = old "@" f[i++]; i++
      new = f[i++]; if (new ~ /^\.\.?\//) next
      if (i <= n && f[i] != "") new = new "@" f[i]
      print "-replace=" old "=" new
    }' "$1"
}

# sidecars_upstream NAME MODULE VERSION: builds the commands tools.go of go/NAME imports, from MODULE at
# VERSION with its own replace directives, in $cache/src/NAME.
sidecars_upstream() {
  local name=$1 mod=$2 v=$3 d info gomod pkgs start=$SECONDS
  d=$(sidecars_workdir "$name") || return
  info=$(cd "$d" && go mod download -json "$mod@$v") || { echo "$info" >&2; return 1; }
  gomod=$(echo "$info" | sed -n 's/^\s*"GoMod": "\(.*\)",$/\1/p')
  [ -n "$gomod" ] || { echo "sidecars: no go.mod for $mod@$v" >&2; return 1; }
  # shellcheck disable=SC2046 # one argument per directive
  (cd "$d" && go mod edit -require="$mod@$v" $(sidecars_replaces "$gomod")) || return
  (cd "$d" && go mod tidy) || return
  pkgs=$(sed -n 's/^\s*_ "\(.*\)"$/\1/p' "$d/tools.go")
  echo "sidecars: $name: $mod@$v:" $pkgs
  (cd "$d" && go list -m all | grep -E '^(k8s.io/(api|client-go|apimachinery) |github.com/kubernetes-csi/)')
  # shellcheck disable=SC2086 # one argument per package
  (cd "$d" && go build -trimpath -ldflags "-s -w -X main.version=$v" -o "$bin/" $pkgs) || return
  echo "sidecars: $name: built in $((SECONDS - start)) s"
}

# sidecars_own NAME BINARY VERSION: builds our module go/NAME into $bin/BINARY; VERSION is the upstream
# release whose flags and behaviour it follows.
sidecars_own() {
  local name=$1 out=$2 v=$3 d start=$SECONDS
  d=$(sidecars_workdir "$name") || return
  (cd "$d" && go mod tidy) || return
  (cd "$d" && go build -trimpath -ldflags "-s -w -X main.version=$v" -o "$bin/$out" .) || return
  echo "sidecars: $name: built in $((SECONDS - start)) s"
}

# sidecars_snapshot_crds DIR: the CRDs of the client module that the snapshotter's module in DIR builds
# with, which are those its controllers are written against.
sidecars_snapshot_crds() {
  local dir crds=$cache/crds/snapshot f n=0
  dir=$(cd "$1" && go list -m -f '{{.Dir}}' github.com/kubernetes-csi/external-snapshotter/client/v8) || return
  rm -rf "$crds" && mkdir -p "$crds" || return
  for f in "$dir"/config/crd/*snapshot.storage.k8s.io_*.yaml; do
    [ -f "$f" ] || continue
    install -m 0644 "$f" "$crds/" || return
    n=$((n + 1))
  done
  [ "$n" -ge 6 ] || { echo "sidecars: only $n snapshot CRDs in $dir/config/crd" >&2; return 1; }
  echo "sidecars: $n snapshot CRDs from $dir"
}

build_sidecars() {
  (
    export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod
    mkdir -p "$bin" || exit
    sidecars_upstream provisioner github.com/kubernetes-csi/external-provisioner/v5 "$EXTERNAL_PROVISIONER_VERSION" || exit
    sidecars_upstream resizer github.com/kubernetes-csi/external-resizer "$EXTERNAL_RESIZER_VERSION" || exit
    sidecars_upstream snapshotter github.com/kubernetes-csi/external-snapshotter/v8 "$EXTERNAL_SNAPSHOTTER_VERSION" || exit
    sidecars_snapshot_crds "$cache/src/snapshotter" || exit
    sidecars_own registrar csi-node-driver-registrar "$NODE_DRIVER_REGISTRAR_VERSION" || exit
    sidecars_own livenessprobe livenessprobe "$LIVENESSPROBE_VERSION" || exit
  )
}
