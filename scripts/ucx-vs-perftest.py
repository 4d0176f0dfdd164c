#!/usr/bin/env python3
"""UCX backend against ucx_perftest (Debian ucx-utils), same UCX_TLS, same machine.

Runs RUNS rounds; each round runs every pair back to back: ucx_perftest (server on CPU 1,
client on CPU 0) and `lamellar-bench --backend ucx --bind-to core` (PE 0 on CPU 0, PE 1 on
CPU 1) on the same operation, each first in every other round, and prints the median over
rounds, with per-round values and the issue's bar (latency within 1.10x, bandwidth at least
0.90x) judged on paired ratios (see verdict.py), latency on the rounds whose two runs fell
on the same host floor (hostfloor.py: a core-pingpong probe before, between and after).

Pairs (perftest test: ours): ucp_put_lat 8 B (a put ping-pong, half round trip):
put_pingpong 8; ucp_get 8 B: get 8; ucp_fadd / ucp_cswap 8 B: fetch_add / compare_swap;
ucp_put_bw 64 KiB and 1 MiB: put_bw, both a stream with at most WINDOW (64) puts in flight
(perftest -O 64, ours --window 64), each waited for locally, and one flush at the end
(put_nb's quiet per window measured 0.74 of perftest over tcp where put_bw measured 0.98).
Our latency figure is the median of 100 batch means, a mean over ops (slow ops count): the verdict compares it with perftest's overall
latency, also a mean over ops; the ratio to perftest's 50th percentile (a per-op median,
which drops slow ops) is printed too. Bandwidth is perftest's overall MB/s, which is
MiB/s: ours is converted from MB/s to MiB/s.

  cargo build --release -p lamellar-bench --features ucx
  cargo build --release -p lamellar-transport --bin lamellar-run
  scripts/ucx-vs-perftest.py posix,sysv,cma,self [RUNS] [TESTS]

TESTS (comma-separated perftest test names, e.g. `ucp_put_lat`) runs only those pairs: more
rounds of one pair in the same time.
"""
import json, os, subprocess, sys, tempfile, time

import hostfloor, verdict

tls = sys.argv[1]
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
bin_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "target", "release")
env = dict(os.environ, UCX_TLS=tls)
pairs = [("ucp_put_lat", 8, "put_pingpong"), ("ucp_get", 8, "get"), ("ucp_fadd", 8, "fetch_add"),
         ("ucp_cswap", 8, "compare_swap"), ("ucp_put_bw", 65536, "put_bw"), ("ucp_put_bw", 1048576, "put_bw")]
if len(sys.argv) > 3:
    only = sys.argv[3].split(",")
    unknown = set(only) - {t for t, _, _ in pairs}
    if unknown:
        sys.exit(f"ucx-vs-perftest: unknown test {sorted(unknown)[0]!r}; known: {sorted({t for t, _, _ in pairs})}")
    pairs = [p for p in pairs if p[0] in only]
WINDOW = "64"
theirs, ours, floors = {}, {}, {}


def iterations(test, size):
    """Operations per run, the same for both sides (with the same warm-up: perftest's default
    10000, ours a tenth plus 100 up to 10000): the first tens of ms of a process run slower
    on this guest, so a shorter run of ours would measure more of them."""
    if test == "ucp_get" and "tcp" in tls:
        return "2000"  # ucp_get over tcp takes ~1.1 ms per op here (a perftest problem): keep it short
    return "100000" if size <= 8 else ("20000" if size <= 65536 else "2000")


def perftest(test, size, port):
    iters = iterations(test, size)
    server = subprocess.Popen(["taskset", "-c", "1", "ucx_perftest", "-p", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(50):
            time.sleep(0.1)
            out = subprocess.run(["taskset", "-c", "0", "ucx_perftest", "127.0.0.1", "-p", str(port), "-t", test,
                                  "-s", str(size), "-n", iters] + (["-O", WINDOW] if test == "ucp_put_bw" else []), env=env, capture_output=True, text=True, timeout=300)
            final = [l for l in out.stdout.splitlines() if l.startswith("Final:")]
            if final:
                f = final[0].split()
                # 50th percentile ns, overall (mean) ns, overall MiB/s
                return float(f[2]) * 1000.0, float(f[4]) * 1000.0, float(f[6])
        raise RuntimeError(f"ucx_perftest {test} {size}: no result\n{out.stdout}\n{out.stderr}")
    finally:
        server.kill()
        server.wait()


def ours_run(op, size, iters):
    with tempfile.NamedTemporaryFile("r", suffix=".json") as f:
        subprocess.run([os.path.join(bin_dir, "lamellar-bench"), "--pes", "2", "--bind-to", "core",
                        "--backend", "ucx", "--ops", op, "--sizes", str(size), "--iters", iters, "--window", WINDOW,
                        "--json", f.name], env=env, capture_output=True, check=True)
        return [r for r in map(json.loads, f) if (r["op"], r["bytes"]) == (op, size)][0]


# Each pair runs back to back (ours alone in its own process, as perftest runs each test):
# both sides then share the process history and, as far as it lasts, the speed level this
# guest happens to be on. Perftest goes first in even rounds, ours in odd ones.
port = 13400
for r in range(runs):
    for test, size, op in pairs:
        port += 1
        sides = [lambda: theirs.setdefault((test, size), []).append(perftest(test, size, port)),
                 lambda: ours.setdefault((op, size), []).append(ours_run(op, size, iterations(test, size)))]
        floors.setdefault((test, size), []).append(hostfloor.round_of(r, sides))

print(f"UCX_TLS={tls}, {runs} alternating rounds")
for test, size, op in pairs:
    latency = size == 8
    t = [x[1] if latency else x[2] for x in theirs[(test, size)]]
    o = [x["median_ns"] if latency else x["mb_per_s"] / 1.048576 for x in ours.get((op, size), [])]
    # perftest's 50th percentile is a per-op median, which drops slow ops: shown, not judged.
    p50 = f", to its 50%ile {verdict.paired_ratio(o, [x[0] for x in theirs[(test, size)]]):4.2f}" if latency and o else ""
    print(verdict.line(f"{test:12} {size:8} ({op})", "perftest", t, "ours", o, latency,
                       "ns" if latency else "MiB/s", p50, floors[(test, size)]))
