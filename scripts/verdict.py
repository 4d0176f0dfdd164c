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
"""
import random
import statistics


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


def line(label, base_name, base, ours_name, ours, latency, unit, extra=""):
    """One result line: medians, paired ratio with the bar and its interval, ratio of
    medians, then the per-round values."""
    if not base or not ours or len(base) != len(ours):
        return f"{label}  incomplete: {base_name} {len(base)} rounds, {ours_name} {len(ours)} rounds"
    ratio, ok, (lo, hi), resolved = judge(ours, base, latency)
    mb, mo = statistics.median(base), statistics.median(ours)
    return (f"{label}  {base_name} {mb:9.0f}  {ours_name} {mo:9.0f} {unit:5} paired ratio {ratio:4.2f} "
            f"[90% {lo:4.2f}-{hi:4.2f}] {'meets' if ok else 'MISSES'} bar, {resolved} "
            f"(ratio of medians {mo / mb:4.2f}){extra}\n"
            f"{'':{len(label)}}  {base_name} {[round(x) for x in base]}  {ours_name} {[round(x) for x in ours]}")
