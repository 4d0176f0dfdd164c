#!/usr/bin/env python3
"""Checks of verdict.py (run by scripts/test-all.sh): the bar, its direction, and when the
interval calls a result clear or not resolved."""
import os, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostfloor, verdict

# Paired, not pooled: ours is 5 % slower in every round although the rounds drift 2x.
base = [100, 200, 100, 200, 150, 120, 180, 110, 190, 160]
ours = [b * 1.05 for b in base]
r, ok, (lo, hi), resolved = verdict.judge(ours, base, latency=True)
assert abs(r - 1.05) < 1e-9 and ok and resolved == "clear" and lo <= r <= hi, (r, ok, lo, hi, resolved)

# Latency 20 % over the bar in every round: a clear miss.
r, ok, _, resolved = verdict.judge([b * 1.2 for b in base], base, latency=True)
assert not ok and resolved == "clear", (r, ok, resolved)

# Bandwidth: higher is better, the bar is 0.90.
r, ok, _, resolved = verdict.judge([b * 0.95 for b in base], base, latency=False)
assert ok and resolved == "clear", (r, ok, resolved)
r, ok, _, resolved = verdict.judge([b * 0.80 for b in base], base, latency=False)
assert not ok and resolved == "clear", (r, ok, resolved)

# Noisy rounds straddling the bar: the interval contains it, so it is not resolved.
noisy = [b * f for b, f in zip(base, [0.80, 1.00, 0.85, 0.98, 0.92, 0.84, 1.02, 0.88, 0.95, 0.90])]
r, ok, (lo, hi), resolved = verdict.judge(noisy, base, latency=False)
assert lo < 0.90 < hi and resolved == "not resolved", (r, lo, hi, resolved)

# The same data always prints the same interval (fixed seed).
assert verdict.interval(noisy, base) == verdict.interval(noisy, base)

# Unequal round counts are reported, not judged.
assert "incomplete" in verdict.line("x", "a", [1, 2], "b", [1], True, "ns")
# Host floors (hostfloor.split): two floors ~4x apart are split in the gap; one floor is not.
assert 150 < hostfloor.split([75, 80, 300, 78, 310, 290, 85]) < 290
assert hostfloor.split([75, 80, 90, 78, 100, 85]) is None
assert hostfloor.split([75] * 30 + [300]) is None  # one stray probe is no second floor
assert hostfloor.split([]) is None

# A latency row with probes is judged on the rounds whose runs fell on the same floor. Here
# ours is 5 % slower on both floors, and in 6 of 11 rounds ours ran on the high floor and
# the baseline on the low one: over all rounds that reads 3.50.
floors = [(75, 80, 300)] * 11
base11 = [90, 90, 300, 300, 90] + [90] * 6
ours11 = [94.5, 94.5, 315, 315, 94.5] + [315] * 6
text = verdict.line("x", "a", base11, "b", ours11, True, "ns", floors=floors)
assert "paired ratio 1.05" in text and "meets" in text and "judged on the 5 rounds" in text, text
assert "above it: a 2/11, b 8/11" in text and "all rounds: paired 3.50" in text, text
assert "a [90, 90, 300, 300, 90, 90*" in text and "b [94, 94, 315, 315, 94, 315*" in text, text
# The runs' own values are split, not at the probes' ns: a ROFI put on the same two floors
# reads ~0.8 or ~2.4 us. With probes that show one floor, nothing is split.
base_us, ours_us = [800, 2400, 800, 2400, 800] + [800] * 6, [860, 2580, 860, 2580, 860] + [2580] * 6
text = verdict.line("x", "a", base_us, "b", ours_us, True, "ns", floors=floors)
assert "paired ratio 1.07" in text and "judged on the 5 rounds" in text, text
text = verdict.line("x", "a", base_us, "b", ours_us, True, "ns", floors=[(75, 80, 78)] * 11)
assert "the probes show one floor" in text and "paired ratio 3.23" in text, text

# A program 3x slower on every round is not hidden: no round matches, so all are judged.
text = verdict.line("x", "a", [90] * 8, "b", [270] * 8, True, "ns", floors=[(75, 300, 80)] * 8)
assert "paired ratio 3.00" in text and "MISSES" in text and "fewer than 5" in text and "b 8/8" in text, text
# Two floors in the probes, one level in the runs (a tcp op, ~20 us): every round.
assert "the runs show one level" in verdict.line("x", "a", base, "b", ours, True, "ns", floors=[(75, 300, 80)] * 10)
# Bandwidth rows and rows without probes: every round, as before.
assert verdict.matched_rounds([1, 2, 3], [1, 2, 3], None) == [0, 1, 2]
assert "bandwidth, every round judged" in verdict.line("x", "a", base, "b", ours, False, "MB/s", floors=[(75, 300, 80)] * 10)
assert "host floor" not in verdict.line("x", "a", base, "b", ours, True, "ns")
# Probes for a different number of rounds are reported, not judged.
assert "incomplete" in verdict.line("x", "a", [1, 2], "b", [1, 2], True, "ns", floors=[(1, 1, 1)])
# A round: the sides in order in even rounds, reversed in odd ones, a probe around each.
ran, fake = [], iter(range(100))
hostfloor.probe = lambda: next(fake)
assert hostfloor.round_of(0, [lambda: ran.append("a"), lambda: ran.append("b")]) == (0, 1, 2)
assert hostfloor.round_of(1, [lambda: ran.append("a"), lambda: ran.append("b")]) == (3, 4, 5)
assert ran == ["a", "b", "b", "a"], ran

# ucx-vs-perftest refuses an unknown test name before running anything, naming the known ones.
import subprocess
out = subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "ucx-vs-perftest.py"),
                      "posix", "1", "ucp_put_lat,ucp_nope"], capture_output=True, text=True, timeout=60)
assert out.returncode != 0 and "unknown test 'ucp_nope'" in out.stderr and "ucp_put_lat" in out.stderr, out
print("verdict: ok")
