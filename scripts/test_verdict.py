#!/usr/bin/env python3
"""Checks of verdict.py (run by scripts/test-all.sh): the bar, its direction, and when the
interval calls a result clear or not resolved."""
import os, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import verdict

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
print("verdict: ok")
