//! `lamellar-bench`: the sweep harness. Started by hand it launches its own PEs (one job per
//! backend/provider of a sweep); started by lamellar-run, mpiexec, mpirun or srun it is one
//! PE of that job.

mod args;
mod buf;
mod collective_ops;
mod compare;
mod kernels;
mod limits;
mod ops;
mod plot;
mod report;
mod sweep;
mod tune;

use clap::Parser;
use lamellar_transport::{Result, Transport};
use report::Measurement;
use std::io::Write;

fn main() {
    let cli = args::Cli::try_parse_from(std::env::args()).unwrap_or_else(|e| e.exit());
    match &cli.cmd {
        Some(args::Cmd::Compare(c)) => std::process::exit(compare::run(c)),
        Some(args::Cmd::Tune(t)) => std::process::exit(tune::run(t)),
        None => {}
    }
    let args = cli.run;
    // The wait timeout comes from LAMELLAR_TIMEOUT when --timeout is not given: a bad value is
    // as much a usage error as a bad flag, and is reported before any PE starts.
    if let Err(e) = lamellar_transport::config::timeout_from_env() {
        usage_error(&e.to_string());
    }
    // Under any launcher (ours, hydra, mpirun, srun) this process is one PE of its job.
    let under_launcher = lamellar_transport::bootstrap::detect::launcher_in_sight();
    if under_launcher && args.is_sweep() {
        usage_error(
            "a sweep (--backend all, several --provider or --tls) starts its own jobs: run it without a launcher",
        );
    }
    let code = if under_launcher || (!args.is_sweep() && args.pes.unwrap_or(1) <= 1) {
        pe(&args)
    } else {
        sweep::run(&args)
    };
    std::process::exit(code);
}

fn usage_error(why: &str) -> ! {
    eprintln!("error: {why}\n\nFor more information, try '--help'.");
    std::process::exit(2);
}

/// One PE's run; its exit code. A PE that cannot measure says why on stderr and, with
/// `--json`, as a line `{"backend", "provider", "error"}` (which a sweep turns into a row).
fn pe(args: &args::Args) -> i32 {
    match pe_main(args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("lamellar-bench: {e}");
            if let Some(path) = &args.json {
                let line = serde_json::json!({
                    "backend": args.backend.clone().or_else(|| std::env::var("LAMELLAR_TRANSPORT").ok()),
                    "provider": args.tls.first().or(args.provider.first()),
                    "error": e.to_string(),
                });
                // Every PE may write it, and the reader takes the first whole line: one
                // write(2) per line, since an O_APPEND write lands whole while `writeln!` on a
                // File writes piece by piece, and two PEs' pieces interleaved into no line.
                let _ = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .and_then(|mut f| f.write_all(format!("{line}\n").as_bytes()));
            }
            1
        }
    }
}

fn pe_main(args: &args::Args) -> Result<()> {
    if let Some(p) = args.provider.first() {
        // SAFETY: still single-threaded: no transport and no threads exist yet.
        unsafe { std::env::set_var("ROFI_PROVIDER", p) };
        // A row named by its provider measures that provider: ROFI's node-local path would
        // otherwise carry every pair of a one-node job. ROFI_LOCAL set by the user wins.
        if std::env::var_os("ROFI_LOCAL").is_none() {
            // SAFETY: as above, still single-threaded.
            unsafe { std::env::set_var("ROFI_LOCAL", "0") };
        }
    }
    if let Some(tls) = args
        .tls
        .first()
        .or(args.provider.first().filter(|_| args.backend.as_deref() == Some("ucx")))
    {
        // SAFETY: as above, still single-threaded.
        unsafe { std::env::set_var("UCX_TLS", tls) };
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
            eprintln!(
                "lamellar-bench: --pes {p} but the launcher started {} PEs; measuring with {}",
                t.num_pes(),
                t.num_pes()
            );
        }
    }
    // +8: put_signal_pingpong's signal word goes right after its data.
    let max = args.sizes().iter().copied().max().unwrap_or(8).max(64) + 8;
    let target = match args.target {
        Some(pe) if pe == 0 || pe >= t.num_pes() => {
            return Err(lamellar_transport::Error::InvalidArgument(format!(
                "--target {pe}: PE 0 measures against another PE, 1..{}",
                t.num_pes()
            )));
        }
        Some(pe) => pe,
        None => usize::from(t.num_pes() > 1),
    };
    let bench = ops::Bench { t: &t, args, buf: t.alloc(max)?, target };
    let mut results: Vec<Measurement> = Vec::new();
    let osu = args.format == "osu";
    if me == 0 {
        println!(
            "# lamellar-bench: backend {} provider {} pes {}",
            t.backend_name(),
            t.provider(),
            t.num_pes()
        );
        if !osu {
            println!("{}", report::table_header());
        }
    }
    let emit = |m: Measurement, results: &mut Vec<Measurement>| {
        if !osu {
            println!("{}", report::table_row(&m));
        } else if report::osu_title(&m.op).is_some() {
            println!("{}", report::osu_row(&m));
        }
        let _ = std::io::stdout().flush();
        results.push(m);
    };
    let progress = progress_bar(me, args);
    let mut last_title = None;
    for op in args.ops() {
        progress.set_message(op.clone());
        if me == 0 && osu {
            match report::osu_title(op) {
                Some(title) if last_title != Some(title) => {
                    println!("# {title}\n{}", report::osu_columns(op))
                }
                Some(_) => {}
                None => println!("# {op}: no OSU counterpart (see --format table)"),
            }
            last_title = report::osu_title(op);
        }
        let sizes = sizes_for(op, args);
        if kernels::KERNELS.contains(&op.as_str()) {
            let n = args.iters();
            let secs = kernels::run(&t, op, n)?;
            if me == 0 {
                progress.suspend(|| emit(kernel_row(&t, op, n, secs), &mut results));
            }
            continue;
        }
        if op == "limits" {
            // The bare rows' word: the target's part where the backend maps it here (shmem),
            // else this PE's own. Allocated by every PE (collective), used by PE 0 alone.
            let word = t.alloc_array::<u64>(8)?;
            t.barrier()?;
            if me == 0 {
                let view = word.local_view(bench.target)?;
                let ptr =
                    view.as_ref().map_or(word.bytes().local_ptr().cast::<u64>(), |v| v.as_ptr());
                // SAFETY: `ptr` is the first u64 of `word` (the target's part or ours), aligned
                // and mapped while `view` and `word` live, past this block's last use of it;
                // the other PEs wait in the barrier, so only these loops touch it meanwhile.
                let bare_word = unsafe { lamellar_bench::bare::Word::new(ptr) };
                for m in limits_rows(&t, args, &bare_word) {
                    progress.suspend(|| emit(m, &mut results));
                }
            }
            t.barrier()?;
            word.free()?;
            continue;
        }
        for bytes in sizes {
            if let Some(m) = bench.run(op, bytes)? {
                progress.suspend(|| emit(m, &mut results));
            }
            progress.inc(1);
        }
    }
    progress.finish_and_clear();
    if me == 0 {
        let env = report::Env::here();
        let lines: Vec<String> = results.iter().map(|m| report::to_json(m, &env)).collect();
        let io = |what: &str, path: &str, e: String| {
            lamellar_transport::Error::InvalidArgument(format!("{what} {path}: {e}"))
        };
        if let Some(path) = &args.json {
            std::fs::write(path, lines.iter().map(|l| format!("{l}\n")).collect::<String>())
                .map_err(|e| io("writing", path, e.to_string()))?;
        }
        if let Some(path) = &args.plot {
            let rows: Vec<serde_json::Value> =
                lines.iter().filter_map(|l| serde_json::from_str(l).ok()).collect();
            plot::write(path, &rows).map_err(|e| io("plotting to", path, e))?;
        }
    }
    t.barrier()?;
    bench.buf.free()?;
    t.finalize()
}

/// A kernel's row: time per item and MUPS per PE, MUPS of the job.
fn kernel_row(t: &Transport, op: &str, n: usize, secs: f64) -> Measurement {
    let ns = secs * 1e9 / n as f64;
    Measurement {
        backend: t.backend_name().into(),
        provider: t.provider(),
        op: op.into(),
        bytes: 8,
        pes: t.num_pes(),
        iters: n,
        median_ns: ns,
        p99_ns: ns,
        group: "kernel",
        native_library: t.native_library(),
        mups: Some(n as f64 / secs / 1e6),
        mups_total: Some((n * t.num_pes()) as f64 / secs / 1e6),
        target: None,
        path: None,
    }
}

/// The sizes an op is measured at: atomics and the harness's overhead at 8 bytes, barrier at
/// 0, the rest at `--sizes`.
fn sizes_for(op: &str, args: &args::Args) -> Vec<usize> {
    match op {
        "fetch_add" | "compare_swap" | "overhead" => vec![8],
        "heap_alloc" | "alloc" => vec![64],
        "barrier" => vec![0],
        _ => args.sizes().to_vec(),
    }
}

/// A progress bar on stderr over the (op, size) measurements, on PE 0 and only when stderr is
/// a terminal (never in a file or a pipe).
fn progress_bar(me: usize, args: &args::Args) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if me != 0 || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let total: usize = args
        .ops()
        .iter()
        .filter(|o| *o != "limits" && !kernels::KERNELS.contains(&o.as_str()))
        .map(|o| sizes_for(o, args).len())
        .sum();
    let bar = indicatif::ProgressBar::new(total as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}") {
        bar.set_style(style);
    }
    bar
}

fn limits_rows(
    t: &Transport,
    args: &args::Args,
    word: &lamellar_bench::bare::Word,
) -> Vec<Measurement> {
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
        mups: None,
        mups_total: None,
        target: None,
        path: None,
    };
    let mut v: Vec<Measurement> = args
        .sizes()
        .iter()
        .map(|&s| {
            let iters = ops::iters_for(args, s);
            row("memcpy", s, iters, limits::memcpy(s, iters))
        })
        .collect();
    for (op, r) in limits::bare_word_ops(word, args.iters()) {
        v.push(row(op, 8, args.iters(), r));
    }
    match limits::cacheline_rtt(args.iters()) {
        Some(r) => v.push(row("cacheline_rtt", 64, args.iters(), r)),
        None => eprintln!("lamellar-bench: cache-line round trip could not be measured"),
    }
    // What direct histo on shmem is bounded by: two PEs' tables, two pinned threads.
    let n = args.iters().max(100_000);
    if let Some(ns) = limits::random_xadd(2 * kernels::TABLE_PER_PE, n) {
        let mut m = row("random_xadd", 8, n, (ns, ns));
        m.pes = 2;
        m.mups = Some(1e3 / ns);
        m.mups_total = Some(2e3 / ns);
        v.push(m);
    }
    v
}
