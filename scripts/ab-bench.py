#!/usr/bin/env python3
"""A/B two builds of lamellar-bench on the same machine: is a change faster?

Runs `A/lamellar-bench ARGS` and `B/lamellar-bench ARGS` alternately ROUNDS times (B first
in odd rounds, so neither always runs warm) and prints, per (op, bytes), both medians and
the median of per-round ratios B/A with its bootstrap 90 % interval (see verdict.py: the
drift two back-to-back runs share cancels; an interval holding 1 means noise can explain
the difference). Latency rows compare median_ns (below 1 is faster), bandwidth rows
mb_per_s (above 1 is faster). A and B are target directories (e.g. target/release and a copy of
the binaries built from the other commit).

  scripts/ab-bench.py A_DIR B_DIR ROUNDS -- --pes 2 --bind-to core --backend rofi ...
"""
import json, os, subprocess, sys, tempfile

import verdict

a_dir, b_dir, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
args = sys.argv[sys.argv.index("--") + 1:]
results = {"A": {}, "B": {}}


def run(side, directory):
    with tempfile.NamedTemporaryFile("r", suffix=".json") as f:
        subprocess.run([os.path.join(directory, "lamellar-bench"), *args, "--json", f.name],
                       capture_output=True, check=True)
        for line in f:
            r = json.loads(line)
            if r["op"] != "limits":
                results[side].setdefault((r["op"], r["bytes"]), []).append(r)


for i in range(rounds):
    order = [("A", a_dir), ("B", b_dir)] if i % 2 == 0 else [("B", b_dir), ("A", a_dir)]
    for side, directory in order:
        run(side, directory)

print(f"{rounds} alternating rounds: {' '.join(args)}")
for key in sorted(results["A"]):
    a, b = results["A"][key], results["B"].get(key, [])
    bandwidth = key[0] in ("put_nb", "get_nb")
    field = "mb_per_s" if bandwidth else "median_ns"
    va, vb = [x[field] for x in a], [x[field] for x in b]
    if len(va) != len(vb):
        print(f"{key}: incomplete")
        continue
    print(f"{key[0]:13} {key[1]:8}  A {verdict.statistics.median(va):9.0f}  B {verdict.statistics.median(vb):9.0f} "
          f"{'MB/s' if bandwidth else 'ns'}  B/A paired {verdict.paired_ratio(vb, va):4.2f} "
          f"[90% {'-'.join(f'{x:4.2f}' for x in verdict.interval(vb, va))}]\n"
          f"{'':23}A {[round(x) for x in va]}\n{'':23}B {[round(x) for x in vb]}")
