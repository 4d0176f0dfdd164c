//! `core-pingpong [CPU_A CPU_B] [ITERS]`: the machine's own floor for a put ping-pong, with
//! no library in between. Two threads, pinned to CPU_A and CPU_B (default 0 and 1, the CPUs
//! `--bind-to core` gives PE 0 and PE 1), bounce one cache line (`lamellar_bench::cacheline`,
//! which lamellar-bench's `cacheline_rtt` row uses too); prints half the median of ten batch
//! means of the round trip, in ns, as one JSON line
//! `{"op":"core_pingpong","cpus":[A,B],"half_rtt_ns":X}`.
//!
//! Why: on a VM the cost of moving a cache line between two vCPUs depends on where the host
//! runs them, and it changes from second to second, several-fold. `lamellar-bench compare`
//! measures the same floor (in process) next to every run, so that a pair of runs made on
//! different floors is recognised as such instead of read as one program being 4x slower
//! than the other.

use lamellar_bench::{cacheline, stats};

/// Half the median round trip, in ns: a tenth of `iters` to warm up, the rest in ten batches.
fn measure(cpus: [usize; 2], iters: u64) -> Result<f64, String> {
    let warmup = iters as usize / 10;
    let v = cacheline::round_trips(Some(cpus), warmup, 10, (iters as usize - warmup) / 10)?;
    Ok(stats::summarize(v).0 / 2.0)
}

fn parse(args: &[String]) -> Result<([usize; 2], u64), String> {
    let num = |s: &String, what: &str| {
        s.parse::<u64>().map_err(|_| format!("{what}: want a number, got {s:?}"))
    };
    match args {
        [] => Ok(([0, 1], 50_000)),
        [a, b] => Ok(([num(a, "CPU_A")? as usize, num(b, "CPU_B")? as usize], 50_000)),
        [a, b, n] => {
            let iters = num(n, "ITERS")?;
            if iters < 10 {
                return Err("ITERS: want at least 10".into());
            }
            Ok(([num(a, "CPU_A")? as usize, num(b, "CPU_B")? as usize], iters))
        }
        _ => Err("usage: core-pingpong [CPU_A CPU_B] [ITERS]".into()),
    }
    .and_then(|(cpus, iters)| match cpus {
        [a, b] if a == b => {
            Err(format!("CPU_A and CPU_B are both {a}: a ping-pong needs two CPUs"))
        }
        _ => Ok((cpus, iters)),
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = parse(&args).and_then(|(cpus, iters)| measure(cpus, iters).map(|ns| (cpus, ns)));
    match result {
        Ok((cpus, ns)) => println!(
            "{{\"op\":\"core_pingpong\",\"cpus\":[{},{}],\"half_rtt_ns\":{ns:.1}}}",
            cpus[0], cpus[1]
        ),
        Err(e) => {
            eprintln!("core-pingpong: {e}");
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn arguments() {
        assert_eq!(parse(&s(&[])).unwrap(), ([0, 1], 50_000));
        assert_eq!(parse(&s(&["1", "0", "1000"])).unwrap(), ([1, 0], 1000));
        assert!(parse(&s(&["x", "1"])).unwrap_err().contains("CPU_A"));
        assert!(parse(&s(&["0", "1", "5"])).unwrap_err().contains("at least 10"));
        assert!(parse(&s(&["0"])).unwrap_err().contains("usage"));
        assert!(parse(&s(&["1", "1"])).unwrap_err().contains("both 1"));
    }
}
