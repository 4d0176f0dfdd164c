#!/usr/bin/env python3
"""Checks of ab-bench.py (run by scripts/test-all.sh, after the release build): both sides
run and are compared, each side's environment settings reach its runs, and a malformed side is
refused with the form it wants."""
import os, subprocess, sys

here = os.path.dirname(os.path.abspath(__file__))
release = os.path.join(here, "..", "target", "release")
bench = [sys.executable, os.path.join(here, "ab-bench.py")]
args = ["--", "--pes", "2", "--ops", "put", "--sizes", "8", "--iters", "200"]


def ab(a, b):
    return subprocess.run(bench + [a, b, "2"] + args, capture_output=True, text=True, timeout=300)


# One build under two settings (the backend comes from LAMELLAR_TRANSPORT without --backend).
out = ab(release + ":LAMELLAR_TRANSPORT=shmem", release + ":LAMELLAR_TIMEOUT=30")
assert out.returncode == 0, out.stderr
row = [l for l in out.stdout.splitlines() if l.startswith("put ")]
assert len(row) == 1 and "B/A paired" in row[0] and "of 2 rounds" in row[0], out.stdout
# Each round's host-floor probes are listed (before, between, after: three per round).
floor = [l for l in out.stdout.splitlines() if l.strip().startswith("floor [")]
assert len(floor) == 1 and floor[0].count("/") == 4, out.stdout

# A side's setting reaches its runs: an unknown backend on either side fails the comparison.
for a, b in ((release + ":LAMELLAR_TRANSPORT=nosuch", release), (release, release + ":LAMELLAR_TRANSPORT=nosuch")):
    out = ab(a, b)
    assert out.returncode != 0, (a, b, out.stdout)

# A malformed side is refused before anything runs.
out = ab(release + ":NOEQUALS", release)
assert out.returncode != 0 and "want DIR[:VAR=VALUE...]" in out.stderr, out.stderr
print("ab-bench checks passed")
