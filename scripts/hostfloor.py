"""The host's floor next to every measurement, so that the comparison scripts can tell a run
made on the other floor from a slower program.

On this project's KVM guest, moving a cache line between the two vCPUs costs ~75 ns or
~300 ns (sometimes ~30), and which one changes from second to second, also within a run and
between two probes a second apart (where the host runs the vCPUs, or what its other guests
do; nothing in the guest decides it: a 20-line C ping-pong shows it alike). A ping-pong
measures little else: ucx_perftest's `ucp_put_lat` and ours both read ~80-110 ns on the low
floor and ~250-400 ns on the high one, so a round whose two runs sat on different floors
gives a ratio of ~0.3 or ~3.5, which says nothing about either program.

`core-pingpong` (benches/src/bin/core_pingpong.rs: two pinned threads, one cache line, no
library) measures the floor in ~20 ms. The scripts probe before, between and after the two
runs of each round. When `split` finds two floors in the probes, verdict.py splits the runs'
own values the same way (a run measures the floor plus its software: the floors are ~3-4x
apart, our distance from a baseline ~1.1x) and pairs for the bar only the rounds whose two
runs fell on the same floor. How often each program ran on the high floor is printed next to
it, so a program that is slower, or that somehow drew the high floor more often, still
shows.
"""
import json, math, os, subprocess

# The floors' means are this far apart at least for `split` to see two (one floor's own
# spread is ~1.3x, the two floors ~4x).
GAP = 2.0
ITERS = "20000"
_BIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "target", "release", "core-pingpong")


def probe():
    """The floor now: core-pingpong's half round trip between CPUs 0 and 1, in ns."""
    out = subprocess.run([_BIN, "0", "1", ITERS], capture_output=True, text=True, check=True, timeout=60)
    return json.loads(out.stdout)["half_rtt_ns"]


def split(probes):
    """The value between the host's two floors, or None if the values show one floor.

    The values are split in two where the classes are best separated (Otsu's method on the
    logarithms: the split with the largest between-class variance), which tolerates probes
    that caught a change of floor and read in between; the answer is the geometric middle of
    the two classes' (geometric) means, if they are `GAP`x apart and each holds a tenth of
    the values at least."""
    v = sorted(math.log(p) for p in probes if p > 0)
    n = len(v)
    best = None
    for i in range(max(1, n // 10), n - max(1, n // 10) + 1):
        lo, hi = sum(v[:i]) / i, sum(v[i:]) / (n - i)
        score = i * (n - i) * (hi - lo) ** 2
        if best is None or score > best[0]:
            best = (score, lo, hi)
    if best is None or math.exp(best[2] - best[1]) < GAP:
        return None
    return math.exp((best[1] + best[2]) / 2)


def round_of(index, sides):
    """Runs one round of a comparison: the `sides` (callables, one per program) back to back,
    in the given order in even rounds and reversed in odd ones (so that neither always has
    the same place), with a probe before, between and after. Returns the probes."""
    probes = [probe()]
    for side in sides if index % 2 == 0 else sides[::-1]:
        side()
        probes.append(probe())
    return tuple(probes)


def show(floors):
    """Every round's probes, for the per-round listing: `[75/77/301, 80/79/81]`."""
    return "[" + ", ".join("/".join(str(round(p)) for p in f) for f in floors) + "]"
