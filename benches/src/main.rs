//! `lamellar-bench`: the sweep harness. Started by hand it launches its own PEs; started by
//! lamellar-run or mpiexec (PMI in the environment) it is one of the PEs.

mod args;
mod buf;
mod cacheline;
mod limits;
mod ops;
mod report;
mod stats;

use clap::Parser;
use lamellar_run::{JobSpec, run};
use lamellar_transport::{Result, Transport};
use report::Measurement;
use std::io::Write;

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = args::Args::try_parse_from(std::env::args()).unwrap_or_else(|e| e.exit());
    // The wait timeout comes from LAMELLAR_TIMEOUT when --timeout is not given: a bad value is
    // as much a usage error as a bad flag, and is reported before any PE starts.
    if let Err(e) = lamellar_transport::config::timeout_from_env() {
        eprintln!("lamellar-bench: {e}");
        std::process::exit(2);
    }
    // Under any launcher (ours, hydra, mpirun, srun) this process is one PE of its job.
    let under_launcher = lamellar_transport::bootstrap::detect::launcher_in_sight();
    if !under_launcher && args.pes.unwrap_or(1) > 1 {
        std::process::exit(launch_self(&args, &argv));
    }
    if let Err(e) = pe_main(&args) {
        eprintln!("lamellar-bench: {e}");
        std::process::exit(1);
    }
}

/// Starts `--pes` copies of this program under our own launcher.
fn launch_self(args: &args::Args, argv: &[String]) -> i32 {
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("lamellar-bench: cannot find own executable: {e}");
            return 1;
        }
    };
    let mut spec = JobSpec::new(args.pes.unwrap_or(1) as usize, exe);
    spec.args = argv.iter().map(Into::into).collect();
    // No wall-clock limit on the job: every wait in it ends by the wait timeout.
    spec.bind_cores = args.bind_cores;
    match run(&spec) {
        Ok(out) => {
            if let Some(why) = out.failure {
                eprintln!("lamellar-bench: {why}");
            }
            out.code
        }
        Err(e) => {
            eprintln!("lamellar-bench: {e}");
            1
        }
    }
}

fn pe_main(args: &args::Args) -> Result<()> {
    if let Some(p) = &args.provider {
        // SAFETY: still single-threaded: no transport, no threads exist yet.
        unsafe {
            std::env::set_var("ROFI_PROVIDER", p);
            if args.backend.as_deref() == Some("ucx") {
                std::env::set_var("UCX_TLS", p);
            }
        }
    }
    let mut b = Transport::builder();
    if let Some(limit) = args.timeout {
        b = b.timeout(limit);
    }
    if let Some(name) = &args.backend {
        b = b.backend(name);
    }
    let t = b.init()?;
    let me = t.my_pe();
    if let Some(p) = args.pes.filter(|&p| p as usize != t.num_pes()) {
        if me == 0 {
            eprintln!("lamellar-bench: --pes {p} but the launcher started {} PEs; measuring with {}", t.num_pes(), t.num_pes());
        }
    }
    let max = args.sizes().iter().copied().max().unwrap_or(8).max(64);
    let bench = ops::Bench { t: &t, args, buf: t.alloc(max)?, target: if t.num_pes() > 1 { 1 } else { 0 } };
    let mut results: Vec<Measurement> = Vec::new();
    if me == 0 {
        println!("# lamellar-bench: backend {} provider {} pes {}", t.backend_name(), t.provider(), t.num_pes());
        println!("{}", report::table_header());
    }
    let emit = |m: Measurement, results: &mut Vec<Measurement>| {
        println!("{}", report::table_row(&m));
        let _ = std::io::stdout().flush();
        results.push(m);
    };
    for op in args.ops() {
        let sizes: Vec<usize> = match op.as_str() {
            "fetch_add" | "compare_swap" => vec![8],
            "barrier" => vec![0],
            _ => args.sizes().to_vec(),
        };
        if op == "limits" {
            if me == 0 {
                for m in limits_rows(&t, args) {
                    emit(m, &mut results);
                }
            }
            t.barrier()?;
            continue;
        }
        for bytes in sizes {
            if let Some(m) = bench.run(op, bytes)? {
                emit(m, &mut results);
            }
        }
    }
    if me == 0 {
        if let Some(path) = &args.json {
            let env = report::Env::here();
            let mut out = String::new();
            for m in &results {
                out.push_str(&report::to_json(m, &env));
                out.push('\n');
            }
            std::fs::write(path, out).map_err(|e| lamellar_transport::Error::InvalidArgument(format!("writing {path}: {e}")))?;
        }
    }
    t.barrier()?;
    bench.buf.free()?;
    t.finalize()
}

fn limits_rows(t: &Transport, args: &args::Args) -> Vec<Measurement> {
    let row = |op: &str, bytes: usize, iters: usize, (median_ns, p99_ns): (f64, f64)| Measurement {
        backend: t.backend_name().into(),
        provider: t.provider(),
        op: op.into(),
        bytes,
        pes: 1,
        iters,
        median_ns,
        p99_ns,
        group: "limits",
        native_library: None,
    };
    let mut v: Vec<Measurement> = args
        .sizes()
        .iter()
        .map(|&s| {
            let iters = ops::iters_for(args, s);
            row("memcpy", s, iters, limits::memcpy(s, iters))
        })
        .collect();
    match limits::cacheline_rtt(args.iters()) {
        Some(r) => v.push(row("cacheline_rtt", 64, args.iters(), r)),
        None => eprintln!("lamellar-bench: cache-line round trip could not be measured"),
    }
    v
}
