#!/usr/bin/env python3
"""ROFI backend against raw libfabric (benches/raw-ofi), same provider, same statistic.

Runs ofi-baseline and `lamellar-bench --backend rofi` alternately RUNS times (so machine
noise hits both alike; each goes first in every other round), both with 2 PEs pinned one per
CPU, and prints the median over runs of each op's median, with the per-run values and the
issue's bar (latency within 1.10x, bandwidth at least 0.90x) judged on paired ratios (see
verdict.py), latency on the rounds whose two runs fell on the same host floor (hostfloor.py:
a core-pingpong probe before, between and after the two runs).

  cargo build --release -p lamellar-bench --features rofi
  cargo build --release -p lamellar-transport --bin lamellar-run
  scripts/rofi-vs-ofi.py 'tcp;ofi_rxm' [RUNS] [WINDOW]

RUNS is 7 by default, a quick look. On shm the 8 B rows' 90 % interval is about +-7 % wide at
40 rounds and +-1-2 % at 200 (11 min), so judging a ratio near the bar takes ~200 rounds.

With OFI_BASELINE_IDLE_THREAD=1 in the environment the baseline runs with one more thread
that only sleeps, as ROFI runs with its progress thread: the comparison then leaves out
whatever a second thread as such costs a program (measured here: 0-7 %, within the noise;
see ofi_baseline.c).
"""
import json, os, subprocess, sys, tempfile

import hostfloor, verdict

prov = sys.argv[1]
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 7
window = sys.argv[3] if len(sys.argv) > 3 else "64"
bin_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "target", "release")
run = [os.path.join(bin_dir, "lamellar-run"), "-n", "2", "--bind-to", "core", "--timeout", "600"]
wanted = [("put", 8), ("get", 8), ("fetch_add", 8), ("put_nb", 65536), ("put_nb", 1048576)]
raw, ours, floors = {}, {}, {}


def collect(into, line):
    r = json.loads(line)
    if (r["op"], r["bytes"]) in wanted:
        into.setdefault((r["op"], r["bytes"]), []).append(r)


# Each side runs two jobs per round, latency ops then put_nb: on tcp;ofi_rxm what a connection
# carried before changes its 64 KiB rate several-fold (1 MiB transfers leave it at a quarter),
# so both sides give every measurement the same connection history.
groups = (("latency", "put,get,fetch_add", "8"), ("bandwidth", "put_nb", "64K,1M"))


def raw_run(group):
    env = dict(os.environ, ROFI_PROVIDER=prov, OFI_BASELINE_ITERS="5000", OFI_BASELINE_WINDOW=window,
               OFI_BASELINE_OPS=group)
    out = subprocess.run(run + [os.path.join(bin_dir, "ofi-baseline")], env=env, capture_output=True, text=True, check=True)
    for line in out.stdout.splitlines():
        if line.startswith("{"):
            collect(raw, line)


def ours_run(ops, sizes):
    with tempfile.NamedTemporaryFile("r", suffix=".json") as f:
        subprocess.run(run + [os.path.join(bin_dir, "lamellar-bench"), "--backend", "rofi", "--provider", prov,
                              "--ops", ops, "--sizes", sizes, "--iters", "5000", "--window", window,
                              "--json", f.name], capture_output=True, check=True)
        for line in f:
            collect(ours, line)


# Raw goes first in even rounds, ROFI in odd ones, so that neither always has the same place.
for r in range(runs):
    for group, ops, sizes in groups:
        sides = [lambda: raw_run(group), lambda: ours_run(ops, sizes)]
        floors.setdefault(group, []).append(hostfloor.round_of(r, sides))

idle = os.environ.get("OFI_BASELINE_IDLE_THREAD", "0") not in ("", "0")
print(f"provider {prov}, {runs} alternating runs, window {window}"
      + (", baseline with an idle second thread" if idle else ""))
for op, size in wanted:
    latency = size == 8
    field, unit = ("median_ns", "ns") if latency else ("mb_per_s", "MB/s")
    r = [x[field] for x in raw.get((op, size), [])]
    o = [x[field] for x in ours.get((op, size), [])]
    print(verdict.line(f"{op:9} {size:8}", "raw", r, "rofi", o, latency, unit, floors=floors["latency" if latency else "bandwidth"]))
