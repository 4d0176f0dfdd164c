#!/usr/bin/env bash
# `cargo package`, with verification, of every crate this workspace publishes (docs/packaging.md):
# each is packaged, unpacked into target/package-check/package/<crate>-<version>/ and built from
# there alone, path dependencies between them resolved through cargo's temporary registry of
# the packaged crates. lamellar-transport is verified with its rofi and ucx backends, so the verification
# builds rofi-sys (ROFI from the C sources inside its package, against the system's
# libfabric-dev) and lamellar-ucx-sys (its C shim, against libucx-dev) from their packages.
# Also checks what the packages hold: ROFI's sources as real files, no generated or build files,
# each .crate under a size cap. Fails if any of it fails. Run from anywhere; takes about a
# minute and a half, its target directory cold on purpose (docs/packaging.md).
set -euo pipefail
cd "$(dirname "$0")/.."

CRATES=(build-support lamellar-bootstrap lamellar-ucx-sys rofi-sys lamellar-transport lamellar-run)
FEATURES="lamellar-transport/rofi,lamellar-transport/ucx"
MAX_CRATE_BYTES=$((256 * 1024)) # compressed; the largest (lamellar-transport) is ~100 KiB

fail() {
    echo "package-check: $*" >&2
    exit 1
}

meta=$(cargo metadata --no-deps --format-version 1)
field() { grep -o "\"$1\":\"[^\"]*\"" <<<"$meta" | head -1 | cut -d'"' -f4; }
# Packages and their verification builds go to a target directory of their own, emptied first
# (below: why a warm one would build stale copies).
target="$(field target_directory)/package-check"
version_of() { grep -o "\"name\":\"$1\",\"version\":\"[^\"]*\"" <<<"$meta" | cut -d'"' -f8; }

# What each package holds. The working tree may hold others' uncommitted edits: this checks
# packaging, not the VCS state, hence --allow-dirty (a real publish runs without it).
args=()
for c in "${CRATES[@]}"; do
    args+=(-p "$c")
    list=$(cargo package --list --allow-dirty -p "$c" 2>/dev/null) || fail "cargo package --list -p $c failed"
    bad=$(grep -E '(^|/)(target|autom4te\.cache|build-aux|\.deps|\.libs)/|\.(o|lo|la|a|so)$|(^|/)(configure|configure~|Makefile|Makefile\.in|aclocal\.m4|config\.(status|log|h))$|^rofi/m4/.+\.m4$|^rofi/tests/' \
        <<<"$list" || true)
    [ -z "$bad" ] || fail "$c would ship generated, build or test files:"$'\n'"$bad"
done
rofi_list=$(cargo package --list --allow-dirty -p rofi-sys 2>/dev/null)
for f in rofi/configure.ac rofi/Makefile.am rofi/rofi.pc.in rofi/m4/.gitkeep rofi/include/rofi.h \
    rofi/src/init.c rofi/src/rofi_internal.h build/main.rs src/lib.rs; do
    grep -qxF "$f" <<<"$rofi_list" || fail "rofi-sys's package lacks $f (ROFI's sources come in through the rofi-sys/rofi link)"
done

# The verification of a crate builds its workspace dependencies from cargo's temporary registry
# of this run's packages (<target>/package/tmp-registry), unpacked into
# $CARGO_HOME/registry/src/<registry>/<crate>-<version>/. Cargo trusts a registry's version never
# to change: it reuses an unpacked directory that is already there, and a build of it that is
# already in the target directory. Ours change without a version bump, and the temporary
# registry's path is the same in every run from one checkout, so an earlier run's copies would
# be built instead of this run's packages. Both go first; the copies are checked after.
cargo_src="${CARGO_HOME:-$HOME/.cargo}/registry/src"
for c in "${CRATES[@]}"; do
    rm -rf "$cargo_src"/*/"$c-$(version_of "$c")"
done
rm -rf "$target"
export CARGO_TARGET_DIR=$target CARGO_BUILD_BUILD_DIR=$target

# Package and verify. ROFI_DIR / ROFI_SRC unset: rofi-sys must build the ROFI in its package.
stamp=$(mktemp)
trap 'rm -f "$stamp"' EXIT
start=$SECONDS
env -u ROFI_DIR -u ROFI_SRC cargo package --allow-dirty "${args[@]}" --features "$FEATURES" 2>&1 |
    grep -v '^warning: ignoring test' # the tests left out on purpose (docs/packaging.md)
echo "package-check: packaged and verified ${CRATES[*]} in $((SECONDS - start)) s"

for c in "${CRATES[@]}"; do
    crate="$target/package/$c-$(version_of "$c").crate"
    [ -f "$crate" ] || fail "no $crate"
    size=$(stat -c %s "$crate")
    [ "$size" -le "$MAX_CRATE_BYTES" ] || fail "$crate is $size bytes (cap $MAX_CRATE_BYTES)"
    printf 'package-check: %-20s %4d files, %4d KiB compressed\n' "$c" \
        "$(tar -tzf "$crate" | grep -vc '/$')" $((size / 1024))
done

# Every crate another one's verification built came from this run's package, unpacked anew.
for c in build-support lamellar-bootstrap lamellar-ucx-sys rofi-sys; do
    v=$(version_of "$c")
    unpacked=$(find "$cargo_src" -mindepth 2 -maxdepth 2 -name "$c-$v" -newer "$stamp")
    [ -n "$unpacked" ] || fail "no verification unpacked $c-$v from this run's package"
    for d in $unpacked; do
        diff -rq -x .cargo-ok "$target/package/$c-$v" "$d" >/dev/null ||
            fail "$d, built by a verification, differs from this run's package of $c"
    done
done

# The link was followed: ROFI's sources are regular files in the .crate, not a symlink.
v=$(version_of rofi-sys)
entry=$(tar -tvzf "$target/package/rofi-sys-$v.crate" "rofi-sys-$v/rofi/src/init.c") ||
    fail "rofi-sys-$v.crate has no rofi/src/init.c"
[ "${entry:0:1}" = "-" ] || fail "rofi/src/init.c is not a regular file in rofi-sys-$v.crate: $entry"

# The verification built ROFI from the package's own rofi/ (not from a ROFI found elsewhere).
packaged="$target/package/rofi-sys-$v/rofi/src"
found=$(find "$target" -name output -path '*rofi-sys*' -newer "$stamp" \
    -exec grep -lxF "cargo::rerun-if-changed=$packaged" {} + 2>/dev/null || true)
[ -n "$found" ] || fail "no rofi-sys build of this run built ROFI from $packaged"
grep -qxF "cargo::rustc-link-lib=static=rofi" $found ||
    fail "rofi-sys's verification did not link the ROFI it built"
echo "package-check: ok"
