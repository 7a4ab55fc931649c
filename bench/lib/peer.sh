# shellcheck shell=bash disable=SC2034 # the BENCH_PEER_* variables are for bench/run.sh
# libfuse's example passthrough_hp, the C peer: built from Debian's fuse3 source package into a cache
# outside the repository (its code is never part of this project). Sourced by bench/run.sh.

# peer_ensure CACHE_DIR: builds passthrough_hp once and sets BENCH_PEER_BIN, BENCH_PEER_VERSION and
# BENCH_PEER_PASSTHROUGH: how this passthrough_hp does FUSE passthrough: "default" (on unless
# --nopassthrough, libfuse 3.17+), "flag" (off unless --passthrough) or "none" (libfuse before 3.17).
peer_ensure() {
  local cache=$1 suite=${BENCH_PEER_SUITE:-bookworm}
  local stamp=$cache/passthrough_hp-$suite
  if [ ! -x "$stamp/passthrough_hp" ]; then
    echo "bench: building libfuse's passthrough_hp from Debian's fuse3 source ($suite) into $cache" >&2
    peer_build "$cache" "$suite" "$stamp" || return 1
  fi
  BENCH_PEER_BIN=$stamp/passthrough_hp
  BENCH_PEER_VERSION=$(cat "$stamp/VERSION")
  local help
  help=$("$BENCH_PEER_BIN" --help 2>&1)
  if grep -q -- '--nopassthrough' <<<"$help"; then
    BENCH_PEER_PASSTHROUGH=default
  elif grep -q -- '--passthrough' <<<"$help"; then
    BENCH_PEER_PASSTHROUGH=flag
  else
    BENCH_PEER_PASSTHROUGH=none
  fi
}

# peer_flags "passthrough=on|off": the passthrough_hp flags for that, or a message and non-zero.
peer_flags() {
  case "$1:$BENCH_PEER_PASSTHROUGH" in
    passthrough=off:default) echo --nopassthrough ;;
    passthrough=off:*) echo "" ;;
    passthrough=on:default) echo "" ;;
    passthrough=on:flag) echo --passthrough ;;
    passthrough=on:none)
      echo "bench: libfuse $BENCH_PEER_VERSION's passthrough_hp has no FUSE passthrough (it came with libfuse 3.17: BENCH_PEER_SUITE=trixie builds one)" >&2
      return 1 ;;
    *) echo "bench: passthrough_hp target arguments must be passthrough=on or passthrough=off, got '$1'" >&2; return 1 ;;
  esac
}

peer_build() {
  local cache=$1 suite=$2 stamp=$3
  local need=()
  for p in dpkg-dev meson ninja-build pkgconf g++; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
  if [ ${#need[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2 || {
      echo "bench: could not install ${need[*]} to build passthrough_hp" >&2; return 1; }
  fi
  # apt-get source needs a deb-src line for the suite; add one next to the distribution's sources.
  local srclist=/etc/apt/sources.list.d/efuse-bench-src-$suite.sources
  if ! apt-get source --print-uris -qq "fuse3/$suite" >/dev/null 2>&1; then
    cat >"$srclist" <<EOF
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $suite
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    apt-get update -qq >&2 || { echo "bench: apt-get update failed after adding $srclist" >&2; return 1; }
  fi
  local src=$cache/src-$suite
  rm -rf "$src" && mkdir -p "$src"
  (cd "$src" && apt-get source -qq --download-only "fuse3/$suite" >&2) || {
    echo "bench: apt-get source fuse3/$suite failed" >&2; return 1; }
  local dscs=("$src"/fuse3_*.dsc) dsc
  dsc=${dscs[0]}
  (cd "$src" && dpkg-source -q -x "$(basename "$dsc")" tree >&2) || {
    echo "bench: dpkg-source -x $dsc failed" >&2; return 1; }
  local version
  version=$(basename "$dsc" .dsc); version=${version#fuse3_}
  rm -rf "$cache/build-$suite"
  if ! meson setup "$cache/build-$suite" "$src/tree" -Dutils=false -Dexamples=true -Dtests=false \
      --buildtype=release >"$cache/build-$suite.log" 2>&1 ||
     ! ninja -C "$cache/build-$suite" example/passthrough_hp >>"$cache/build-$suite.log" 2>&1; then
    echo "bench: building passthrough_hp failed; see $cache/build-$suite.log" >&2
    return 1
  fi
  mkdir -p "$stamp"
  # The example links libfuse from its build tree (rpath), so the build directory stays in the cache.
  ln -sfn "$cache/build-$suite/example/passthrough_hp" "$stamp/passthrough_hp"
  echo "$version" >"$stamp/VERSION"
}
