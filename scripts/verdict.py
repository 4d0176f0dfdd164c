"""The issues' bar, judged the same way by every comparison script.

Each script runs the baseline and ours alternately, round after round, so round i of one
was measured right next to round i of the other. On this machine a run's median drifts by
up to a third over minutes (tcp loopback, shared host), so the verdict uses the median of
the per-round ratios (ours_i / baseline_i), which cancels the drift two back-to-back runs
share; the ratio of the two medians is printed next to it.

What drift does not cancel is the level of each run: two runs of the same binary, back to
back, differ by up to 15 % (seen: shm put bandwidth 10.7 and 13.5 GB/s in consecutive
runs; within one run, fresh buffers vary by less). An A/A comparison of one binary against
itself gave a paired ratio of 0.92 over 30 rounds. So every verdict comes with a bootstrap
90 % interval of the paired ratio: "clear" when the whole interval is on one side of the
bar, "not resolved" when the bar lies inside it (more rounds narrow it).

Nor does pairing cancel the host's floor when it changes between a round's two runs (see
hostfloor.py: ~75 ns or ~300 ns per cache-line move, flipping from second to second). Given
the host-floor probes, a latency verdict is judged on the rounds whose two runs fell on the
same floor (`floor_split`), when there are at least `MIN_MATCHED` of them; the ratio over
all rounds and how often each side ran on the high floor are printed next to it.
"""
import random
import statistics

import hostfloor

# Fewer rounds on matching floors than this: judged on all rounds (and said so).
MIN_MATCHED = 5


def paired_ratio(ours, base):
    """Median over rounds of ours_i / base_i (lists of equal length, in round order)."""
    return statistics.median(o / b for o, b in zip(ours, base))


def interval(ours, base, level=0.90, resamples=2000, seed=1):
    """Bootstrap interval of the paired ratio: the rounds are resampled with replacement
    (a fixed seed, so the same data always prints the same interval)."""
    ratios = [o / b for o, b in zip(ours, base)]
    rng = random.Random(seed)
    meds = sorted(statistics.median(rng.choices(ratios, k=len(ratios))) for _ in range(resamples))
    tail = (1 - level) / 2
    return meds[int(tail * resamples)], meds[int((1 - tail) * resamples) - 1]


def judge(ours, base, latency):
    """(paired ratio, meets the bar?, interval, 'clear' or 'not resolved'). The bar:
    latency within 1.10x of the baseline, bandwidth at least 0.90x."""
    ratio = paired_ratio(ours, base)
    lo, hi = interval(ours, base)
    ok = ratio <= 1.10 if latency else ratio >= 0.90
    clear = (hi <= 1.10 or lo > 1.10) if latency else (lo >= 0.90 or hi < 0.90)
    return ratio, ok, (lo, hi), "clear" if clear else "not resolved"


def floor_split(floors, base, ours):
    """Where a latency row's runs divide into the host's two floors, or None: only when the
    probes show two floors (evidence that the division is the host's, not a program's), the
    runs' own values split the same way (hostfloor.split on both sides' values together:
    a run measures the floor plus its software, e.g. ~80-110 ns or ~250-400 ns for a UCX shm
    ping-pong, ~0.8 or ~2.4 us for a ROFI shm put)."""
    if not floors or hostfloor.split([p for f in floors for p in f]) is None:
        return None
    return hostfloor.split(list(base) + list(ours))


def same_floor(base, ours, threshold):
    """Indices of the rounds whose two runs fell on the same side of `threshold` (the gap
    between the host's floors)."""
    return [i for i, (b, o) in enumerate(zip(base, ours)) if (b > threshold) == (o > threshold)]


def matched_rounds(base, ours, threshold):
    """Indices of the rounds to judge: the same-floor rounds if there are `MIN_MATCHED` or
    more; else, or without a threshold, every round."""
    keep = same_floor(base, ours, threshold) if threshold else []
    return keep if len(keep) >= MIN_MATCHED else list(range(len(base)))


def judged_rounds(floors, base, ours, latency):
    """(threshold, indices of the rounds to judge) for one row: a latency row on the rounds
    whose runs fell on the same host floor (`floor_split`, `matched_rounds`), a bandwidth row
    on every round."""
    threshold = floor_split(floors, base, ours) if latency else None
    return threshold, matched_rounds(base, ours, threshold)


def floor_note(pad, floors, base_name, base, ours_name, ours, latency, unit, threshold, keep):
    """The host-floor lines of a result: which rounds were judged and why, and the probes."""
    if not latency:
        judged = "bandwidth, every round judged"
    elif threshold is None:
        two = hostfloor.split([p for f in floors for p in f]) is not None
        judged = f"{'the runs show one level' if two else 'the probes show one floor'}, every round judged"
    elif len(keep) < len(base):
        judged = f"judged on the {len(keep)} rounds whose runs fell on the same floor"
    elif len(same_floor(base, ours, threshold)) == len(base):
        judged = "every round's runs fell on the same floor"
    else:
        # The split then divides the programs, not the floors: a real difference shows.
        judged = f"every round judged: fewer than {MIN_MATCHED} rounds' runs fell on the same side"
    text = f"{pad}  host floor (ns, probes before/between/after each round): {judged}"
    if threshold:
        high = lambda v: sum(x > threshold for x in v)
        every, (lo, hi) = paired_ratio(ours, base), interval(ours, base)
        text += (f"; runs split at {threshold:.0f} {unit}, above it: {base_name} {high(base)}/{len(base)}, "
                 f"{ours_name} {high(ours)}/{len(ours)} rounds; all rounds: paired {every:4.2f} [90% {lo:4.2f}-{hi:4.2f}]")
    return text + f"\n{pad}  floor {hostfloor.show(floors)}\n"


def line(label, base_name, base, ours_name, ours, latency, unit, extra="", floors=None):
    """One result line: medians, paired ratio with the bar and its interval, ratio of
    medians, then the per-round values. With `floors` (per round, the host-floor probes
    taken around its runs) a latency row is judged on the rounds whose runs fell on the
    same floor; the others are marked `*`."""
    if not base or not ours or len(base) != len(ours) or (floors and len(floors) != len(base)):
        return f"{label}  incomplete: {base_name} {len(base)} rounds, {ours_name} {len(ours)} rounds"
    threshold, keep = judged_rounds(floors, base, ours, latency)
    b, o = [base[i] for i in keep], [ours[i] for i in keep]
    ratio, ok, (lo, hi), resolved = judge(o, b, latency)
    mb, mo = statistics.median(b), statistics.median(o)
    text = (f"{label}  {base_name} {mb:9.0f}  {ours_name} {mo:9.0f} {unit:5} paired ratio {ratio:4.2f} "
            f"[90% {lo:4.2f}-{hi:4.2f}] {'meets' if ok else 'MISSES'} bar, {resolved} "
            f"(ratio of medians {mo / mb:4.2f}){extra}\n")
    pad = " " * len(label)
    if floors:
        text += floor_note(pad, floors, base_name, base, ours_name, ours, latency, unit, threshold, keep)
    listed = lambda v: "[" + ", ".join(f"{round(x)}{'' if i in keep else '*'}" for i, x in enumerate(v)) + "]"
    return text + f"{pad}  {base_name} {listed(base)}  {ours_name} {listed(ours)}"
