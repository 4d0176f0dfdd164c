#!/usr/bin/env python3
"""A/B two builds of lamellar-bench on the same machine: is a change faster?

Runs `A/lamellar-bench ARGS` and `B/lamellar-bench ARGS` alternately ROUNDS times (B first
in odd rounds, so neither always runs warm) and prints, per (op, bytes), both medians and
the median of per-round ratios B/A with its bootstrap 90 % interval (see verdict.py: the
drift two back-to-back runs share cancels; an interval holding 1 means noise can explain
the difference), latency over the rounds whose two runs fell on the same host floor
(hostfloor.py). Latency rows compare median_ns (below 1 is faster), bandwidth rows
mb_per_s (above 1 is faster).
A and B are target directories (e.g. target/release and a copy of the binaries built from
the other commit), each optionally followed by environment settings for that side only,
`DIR:VAR=VALUE:VAR=VALUE`, to compare one build under two settings.

  scripts/ab-bench.py A_DIR B_DIR ROUNDS -- --pes 2 --bind-to core --backend rofi ...
  scripts/ab-bench.py target/release:ROFI_PROGRESS_THREAD=0 target/release 25 -- ...
"""
import json, os, subprocess, sys, tempfile

import hostfloor, verdict


def side_spec(spec):
    """`DIR[:VAR=VALUE...]` -> (DIR, environment for that side)."""
    directory, *settings = spec.split(":")
    bad = [x for x in settings if "=" not in x or x.startswith("=")]
    if bad:
        sys.exit(f"ab-bench: {spec}: want DIR[:VAR=VALUE...], got {bad[0]!r}")
    return directory, dict(os.environ, **dict(x.split("=", 1) for x in settings))


(a_dir, a_env), (b_dir, b_env), rounds = side_spec(sys.argv[1]), side_spec(sys.argv[2]), int(sys.argv[3])
args = sys.argv[sys.argv.index("--") + 1:]
results = {"A": {}, "B": {}}
floors = []


def run(side, directory, env):
    with tempfile.NamedTemporaryFile("r", suffix=".json") as f:
        subprocess.run([os.path.join(directory, "lamellar-bench"), *args, "--json", f.name],
                       env=env, capture_output=True, check=True)
        for line in f:
            r = json.loads(line)
            if r["op"] != "limits":
                results[side].setdefault((r["op"], r["bytes"]), []).append(r)


for i in range(rounds):
    # B first in odd rounds (hostfloor.round_of), so neither always runs warm.
    floors.append(hostfloor.round_of(i, [lambda: run("A", a_dir, a_env), lambda: run("B", b_dir, b_env)]))

print(f"{rounds} alternating rounds: A {sys.argv[1]}, B {sys.argv[2]}: {' '.join(args)}")
for key in sorted(results["A"]):
    a, b = results["A"][key], results["B"].get(key, [])
    bandwidth = key[0] in ("put_nb", "get_nb")
    field = "mb_per_s" if bandwidth else "median_ns"
    va, vb = [x[field] for x in a], [x[field] for x in b]
    if len(va) != len(vb):
        print(f"{key}: incomplete")
        continue
    # Latency: judged on the rounds whose two runs fell on the same host floor (verdict.py).
    threshold, keep = verdict.judged_rounds(floors, va, vb, not bandwidth)
    sa, sb = [va[i] for i in keep], [vb[i] for i in keep]
    print(f"{key[0]:13} {key[1]:8}  A {verdict.statistics.median(sa):9.0f}  B {verdict.statistics.median(sb):9.0f} "
          f"{'MB/s' if bandwidth else 'ns'}  B/A paired {verdict.paired_ratio(sb, sa):4.2f} "
          f"[90% {'-'.join(f'{x:4.2f}' for x in verdict.interval(sb, sa))}] over {len(keep)} of {len(va)} rounds "
          f"(all: {verdict.paired_ratio(vb, va):4.2f})\n"
          f"{'':23}A {[round(x) for x in va]}\n{'':23}B {[round(x) for x in vb]}\n"
          f"{'':23}floor {hostfloor.show(floors)}"
          + (f", runs split at {threshold:.0f} ns" if threshold else ""))
