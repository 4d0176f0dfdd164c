#!/usr/bin/env bash
# Installs what a fresh Debian/Ubuntu machine lacks, starts what the tests need (as root: a
# one-node Slurm on localhost, two test hosts made of namespaces; stopped again on exit),
# then checks formatting and lints (cargo fmt, clippy -D warnings) and runs every test of the
# workspace: the Rust tests (conformance suite on every compiled
# backend under lamellar-run, hydra, Open MPI, srun with PMI-2 and PMIx, across two hosts,
# and as a singleton; launcher; bench; untrusted input fuzzed), the safe layer under Miri, and
# ROFI's own C tests (make check), plain and under AddressSanitizer + UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."

# libpmix-dev: Slurm's pmix plugin loads the unversioned libpmix.so (our PEs need only libpmix2).
# fonts-dejavu-core: the text of lamellar-bench's plots.
PACKAGES=(build-essential pkg-config autoconf automake libtool clang libclang-dev
          libfabric-dev libfabric-bin libucx-dev ucx-utils mpich openmpi-bin libpmix-dev
          slurm-wlm munge iproute2 util-linux fonts-dejavu-core)

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

# Services, by our own pids and names, stopped whatever way this script ends.
state=$(mktemp -d /tmp/lt-test-all.XXXXXX)
cleanup() {
    scripts/slurm-local.sh stop "$state/slurm" >/dev/null 2>&1 || true
    scripts/netns-hosts.sh down "$state/hosts" >/dev/null 2>&1 || true
    rm -rf "$state"
}
trap cleanup EXIT
if [ "$(id -u)" -eq 0 ]; then
    rc=0; scripts/slurm-local.sh start "$state/slurm" >/dev/null || rc=$?
    case $rc in
        0) export SLURM_CONF="$state/slurm/slurm.conf"; echo "== slurm: up on localhost" ;;
        3) echo "== slurm: not installed; srun runs skipped" ;;
        *) echo "== slurm: failed to start"; exit 1 ;;
    esac
    rc=0; scripts/netns-hosts.sh up 2 "$state/hosts" || rc=$?
    case $rc in
        0) export LT_NETNS_DIR="$state/hosts" ;;
        3) echo "== test hosts: cannot be made here; runs across hosts skipped" ;;
        *) echo "== test hosts: failed to start"; exit 1 ;;
    esac
else
    echo "== not root: no Slurm and no test hosts; srun and cross-host runs skipped"
fi

# Every backend. Not rofi-sys/vendored: rofi-sys's test vendored_libfabric_from_source builds
# a crate with that feature itself (libfabric from the lamellar-libfabric-src crate's sources).
FEATURES="lamellar-transport/rofi,lamellar-transport/ucx,lamellar-bench/rofi,lamellar-bench/ucx"
echo "== cargo fmt --check, cargo clippy -D warnings"
# Where rustup manages the toolchain, it adds what a minimal profile leaves out.
if command -v rustup >/dev/null; then rustup component add rustfmt clippy >/dev/null 2>&1 || true; fi
cargo fmt --all --check
# Every unsafe block and impl says why it is sound (a `// SAFETY:` comment), tests included.
cargo clippy --workspace --release --all-targets --features "$FEATURES" -- -W clippy::undocumented_unsafe_blocks -D warnings 2>&1
echo "== cargo test (workspace; features $FEATURES)"
cargo test --workspace --release --features "$FEATURES" 2>&1
echo "== criterion benches, each once (test mode), on every backend"
cargo bench -p lamellar-bench --features "$FEATURES" --bench transport -- --test 2>&1

# Miri over what it can interpret: the safe layer on the heap-memory backend double
# (bounds and offset arithmetic, heap blocks, scopes, handles, futures; src/double_tests.rs).
# Miri needs a nightly toolchain; rustup fetches it with the component.
echo "== miri: the safe layer over the backend double"
if command -v rustup >/dev/null &&
    rustup toolchain install nightly --profile minimal --component miri >/dev/null 2>&1; then
    cargo +nightly miri test -p lamellar-transport --lib --no-default-features -- miri_ 2>&1
else
    echo "== miri: no rustup nightly toolchain with miri can be installed here"; exit 1
fi

echo "== cargo package (verified): the published crates, native parts built from their packages"
scripts/package-check.sh 2>&1

if [ -f rofi/configure.ac ]; then
    echo "== rofi: make check"
    build=$(mktemp -d)
    (cd rofi && autoreconf -fi >/dev/null)
    top=$PWD
    (cd "$build" && "$top/rofi/configure" -q && make -s -j2 && make -s check LAUNCHER="$top/target/release/lamellar-run -n")
    rm -rf "$build"
    echo "== rofi: make check under AddressSanitizer and UndefinedBehaviorSanitizer"
    build=$(mktemp -d)
    (cd "$build" && "$top/rofi/configure" -q --enable-sanitizers && make -s -j2 &&
        LSAN_OPTIONS="suppressions=$top/rofi/tests/lsan.supp" UBSAN_OPTIONS=print_stacktrace=1 \
        make -s check LAUNCHER="$top/target/release/lamellar-run -n")
    rm -rf "$build"
fi
echo "== all tests passed"
