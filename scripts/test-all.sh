#!/usr/bin/env bash
# Installs what a fresh Debian/Ubuntu machine lacks, then runs every test of the workspace:
# the Rust tests (conformance suite on every compiled backend under lamellar-run, mpiexec and
# as a singleton; launcher; bench), and ROFI's own C tests (make check).
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(build-essential pkg-config autoconf automake libtool clang libclang-dev
          libfabric-dev libfabric-bin libucx-dev ucx-utils mpich)

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing: ${missing[*]}"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Every backend. Not rofi-sys/vendored: rofi-sys's test vendored_libfabric_from_source builds
# a crate with that feature itself (libfabric from the lamellar-libfabric-src crate's sources).
FEATURES="lamellar-transport/rofi,lamellar-transport/ucx,lamellar-bench/rofi,lamellar-bench/ucx"
echo "== cargo test (workspace; features $FEATURES)"
cargo test --workspace --release --features "$FEATURES" 2>&1

if [ -f rofi/configure.ac ]; then
    echo "== rofi: make check"
    build=$(mktemp -d)
    (cd rofi && autoreconf -fi >/dev/null)
    top=$PWD
    (cd "$build" && "$top/rofi/configure" -q && make -s -j2 && make -s check LAUNCHER="$top/target/release/lamellar-run -n")
    rm -rf "$build"
fi
echo "== comparison scripts: verdict, ab-bench"
python3 scripts/test_verdict.py
python3 scripts/test_ab_bench.py
echo "== all tests passed"
