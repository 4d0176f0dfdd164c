#!/bin/sh
# launch.sh - automake LOG_COMPILER for ROFI's tests.
#
# Each TESTS entry is a name PROG.PROV.npN (not a file): run tests/t_PROG
# on N PEs with provider PROV: shm -> "shm", rxm -> "tcp;ofi_rxm", both with
# ROFI_LOCAL=0 (every op through the provider); local -> "tcp;ofi_rxm" with
# the node-local path, localrma -> the same for put and get only; or
# PROG.unit: run tests/t_PROG as it is (one process, no launcher).
# Launcher: $LAUNCHER (e.g. "mpiexec -n"), else lamellar-run from PATH or
# from the workspace's target/{debug,release}, else hydra's mpiexec.hydra.
set -u
name=$(basename "$1")
prog=${name%%.*}
case $name in
  *.unit) exec "${ROFI_TEST_BINDIR:-./tests}/t_$prog" ;;
esac
rest=${name#*.}
prov=${rest%%.*}
np=${rest##*.np}
case $prov in
  shm) provider=shm local=0 ;;
  rxm) provider='tcp;ofi_rxm' local=0 ;;
  local) provider='tcp;ofi_rxm' local=1 ;;
  localrma) provider='tcp;ofi_rxm' local=rma ;;
  *) echo "launch.sh: unknown provider tag '$prov' in '$name'" >&2; exit 99 ;;
esac

launcher=${LAUNCHER:-}
if [ -z "$launcher" ]; then
  if command -v lamellar-run >/dev/null 2>&1; then
    launcher="lamellar-run -n"
  else
    for cand in "${ROFI_TOP_BUILDDIR:-.}"/../target/*/lamellar-run \
                "${ROFI_TOP_SRCDIR:-.}"/../target/*/lamellar-run; do
      if [ -x "$cand" ]; then launcher="$cand -n"; break; fi
    done
  fi
fi
[ -n "$launcher" ] || launcher="mpiexec.hydra -n"

ROFI_PROVIDER=$provider
ROFI_LOCAL=$local
ROFI_TIMEOUT=${ROFI_TIMEOUT:-30}
export ROFI_PROVIDER ROFI_LOCAL ROFI_TIMEOUT
bin="${ROFI_TEST_BINDIR:-./tests}/t_$prog"
echo "# $launcher $np $bin   (ROFI_PROVIDER=$provider ROFI_LOCAL=$local)"
# Outer bound in case a launcher itself hangs.
if command -v timeout >/dev/null 2>&1; then
  exec timeout -k 10 300 $launcher "$np" "$bin"
fi
exec $launcher "$np" "$bin"
