"""The issues' bar, judged the same way by both comparison scripts.

Each script runs the baseline and ours alternately, round after round, so round i of one
was measured right next to round i of the other. On this machine a run's median drifts by
up to a third over minutes (tcp loopback, shared host), so the verdict uses the median of
the per-round ratios (ours_i / baseline_i), which cancels the drift two back-to-back runs
share; the ratio of the two medians is printed next to it.
"""
import statistics


def paired_ratio(ours, base):
    """Median over rounds of ours_i / base_i (lists of equal length, in round order)."""
    return statistics.median(o / b for o, b in zip(ours, base))


def line(label, base_name, base, ours_name, ours, latency, unit, extra=""):
    """One result line: medians, paired ratio with the bar (latency within 1.10x,
    bandwidth at least 0.90x), ratio of medians, then the per-round values."""
    if not base or not ours or len(base) != len(ours):
        return f"{label}  incomplete: {base_name} {len(base)} rounds, {ours_name} {len(ours)} rounds"
    ratio = paired_ratio(ours, base)
    ok = ratio <= 1.10 if latency else ratio >= 0.90
    mb, mo = statistics.median(base), statistics.median(ours)
    return (f"{label}  {base_name} {mb:9.0f}  {ours_name} {mo:9.0f} {unit:5} paired ratio {ratio:4.2f} "
            f"{'meets' if ok else 'MISSES'} bar (ratio of medians {mo / mb:4.2f}){extra}\n"
            f"{'':{len(label)}}  {base_name} {[round(x) for x in base]}  {ours_name} {[round(x) for x in ours]}")
