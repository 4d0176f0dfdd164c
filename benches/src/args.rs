//! The command line. Flags and their meanings are a contract read by scripts: extend, never
//! rename. Every value is checked here, before any PE starts: a bad one is a usage error
//! (exit 2) naming the flag.

use clap::Parser;
use std::time::Duration;

pub const ALL_OPS: [&str; 13] = [
    "put",
    "put_pingpong",
    "put_signal_pingpong",
    "get",
    "put_nb",
    "put_bw",
    "get_nb",
    "fetch_add",
    "compare_swap",
    "barrier",
    "msg_latency",
    "msg_rate",
    "limits",
];

/// Asked for by name only: the harness's own cost per measured op (its loop and timer), and
/// the collective and allocation rows (`collective_ops.rs`).
pub const EXTRA_OPS: [&str; 7] =
    ["overhead", "broadcast", "allreduce", "allgather", "alltoall", "heap_alloc", "alloc"];

fn known(op: &str) -> bool {
    ALL_OPS.contains(&op) || EXTRA_OPS.contains(&op) || crate::kernels::KERNELS.contains(&op)
}

fn known_list() -> String {
    ALL_OPS
        .iter()
        .chain(EXTRA_OPS.iter())
        .chain(crate::kernels::KERNELS.iter())
        .copied()
        .collect::<Vec<_>>()
        .join(",")
}

/// The largest message a sweep may ask for: each PE allocates one symmetric buffer of the
/// largest size, and a size beyond what the node can hold is a typo, not a measurement.
pub const MAX_SIZE: usize = 1 << 30;

/// The whole command line: a run (the flags below), or a subcommand.
#[derive(Debug, Parser)]
#[command(
    name = "lamellar-bench",
    version,
    args_conflicts_with_subcommands = true,
    about = "Latency and bandwidth of lamellar-transport's operations, per backend and message size",
    after_help = "Started by hand it launches --pes copies of itself under lamellar-run; started by a \
                  launcher (lamellar-run, mpiexec, mpirun, srun) it is one PE of that job."
)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Option<Cmd>,
    #[command(flatten)]
    pub run: Args,
}

#[derive(Debug, clap::Subcommand)]
pub enum Cmd {
    /// Ours against the layer below (ofi-baseline, ucx_perftest, the machine) in alternating
    /// rounds, judged against a bar.
    Compare(crate::compare::CompareArgs),
    /// The fastest backend and provider per message size, whether windows of non-blocking
    /// operations beat blocking ones, and the environment to export.
    Tune(crate::tune::TuneArgs),
}

/// The backends and providers `compare` and `tune` go over.
#[derive(Clone, Debug, clap::Args)]
pub struct Fabrics {
    /// Backend, or all compiled ones.
    #[arg(long, value_parser = ["shmem", "rofi", "ucx", "all"], default_value = "all")]
    pub backend: String,
    /// libfabric providers for rofi (repeatable; default: shm and tcp;ofi_rxm).
    #[arg(long, value_parser = non_empty, action = clap::ArgAction::Append)]
    pub provider: Vec<String>,
    /// UCX transport sets for ucx (repeatable; default: posix,sysv,cma,self and tcp,self).
    #[arg(long, value_parser = non_empty, action = clap::ArgAction::Append)]
    pub tls: Vec<String>,
}

impl Fabrics {
    pub fn wants(&self, backend: &str) -> bool {
        self.backend == "all" || self.backend == backend
    }
    /// The providers given, or shared memory and tcp.
    pub fn providers(&self) -> Vec<String> {
        if self.provider.is_empty() {
            vec!["shm".into(), "tcp;ofi_rxm".into()]
        } else {
            self.provider.clone()
        }
    }
    /// The transport sets given, or shared memory and tcp.
    pub fn tls_sets(&self) -> Vec<String> {
        if self.tls.is_empty() {
            vec!["posix,sysv,cma,self".into(), "tcp,self".into()]
        } else {
            self.tls.clone()
        }
    }
}

#[derive(Clone, Debug, Parser)]
#[command(
    name = "lamellar-bench",
    version,
    about = "Latency and bandwidth of lamellar-transport's operations, per backend and message size",
    after_help = "Started by hand it launches --pes copies of itself under lamellar-run; started by a \
                  launcher (lamellar-run, mpiexec, mpirun, srun) it is one PE of that job."
)]
pub struct Args {
    /// PEs to launch when started by hand (under a launcher, the launcher's count wins).
    #[arg(short = 'n', long, allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(1..))]
    pub pes: Option<u32>,
    /// Backend: shmem, rofi, ucx, or all (every compiled one, each in its own job); default:
    /// LAMELLAR_TRANSPORT, else the first compiled.
    #[arg(long, value_parser = ["shmem", "rofi", "ucx", "all"])]
    pub backend: Option<String>,
    /// libfabric provider for rofi (ROFI_PROVIDER); repeat for a sweep. Every pair then goes
    /// through it (ROFI_LOCAL=0 unless set). With --backend ucx and no --tls, the UCX
    /// transport set instead.
    #[arg(long, value_parser = non_empty, action = clap::ArgAction::Append)]
    pub provider: Vec<String>,
    /// UCX transport set for ucx (UCX_TLS, e.g. tcp,self); repeat for a sweep.
    #[arg(long, value_parser = non_empty, action = clap::ArgAction::Append)]
    pub tls: Vec<String>,
    /// Output layout: our table, or OSU micro-benchmarks' for the ops OSU has.
    #[arg(long, value_parser = ["table", "osu"], default_value = "table")]
    pub format: String,
    /// Plot latency and bandwidth against size, one line per backend/provider (.svg or .png).
    #[arg(long, value_name = "FILE.svg|FILE.png", value_parser = parse_plot)]
    pub plot: Option<String>,
    /// Comma-separated operations; the kernels histo, histo_agg, index_gather,
    /// index_gather_agg and randperm run --iters items per PE.
    #[arg(long, value_parser = parse_ops, default_value = "put,put_pingpong,put_signal_pingpong,get,put_nb,put_bw,get_nb,fetch_add,compare_swap,barrier,msg_latency,msg_rate,limits")]
    pub ops: Ops,
    /// Comma-separated message sizes in bytes; K, M, G are binary multiples (at most 1G).
    #[arg(long, value_parser = parse_sizes, default_value = "8,64,4K,1M")]
    pub sizes: Sizes,
    /// Operations per measurement (scaled down for large messages).
    #[arg(long, default_value_t = 10_000, allow_negative_numbers = true, value_parser = clap::value_parser!(u64).range(1..))]
    pub iters: u64,
    /// The PE that PE 0 measures against (default 1), e.g. a PE on another node; the JSON
    /// lines say which, and the path to it (`target`, `path`).
    #[arg(long, value_name = "PE")]
    pub target: Option<usize>,
    /// Non-blocking operations in flight per window (put_nb, get_nb, put_bw).
    #[arg(long, default_value_t = 64, allow_negative_numbers = true, value_parser = clap::value_parser!(u64).range(1..))]
    pub window: u64,
    /// Write one JSON object per measurement to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<String>,
    /// Seconds any wait on another PE may take (default: LAMELLAR_TIMEOUT, else the
    /// transport's default).
    #[arg(long, value_name = "SECS", allow_negative_numbers = true, value_parser = parse_timeout)]
    pub timeout: Option<Duration>,
    /// Pin each launched PE to one CPU (core) or not (none), as lamellar-run's --bind-to.
    #[arg(long = "bind-to", value_name = "core|none", action = clap::ArgAction::Set, value_parser = lamellar_run::parse_bind_to, default_value = "none")]
    pub bind_cores: bool,
}

/// Newtypes: clap treats a `Vec` field as a repeated flag; ours are one comma-separated value.
#[derive(Clone, Debug)]
pub struct Ops(pub Vec<String>);
#[derive(Clone, Debug)]
pub struct Sizes(pub Vec<usize>);

impl Args {
    pub fn ops(&self) -> &[String] {
        &self.ops.0
    }
    pub fn sizes(&self) -> &[usize] {
        &self.sizes.0
    }
    pub fn iters(&self) -> usize {
        self.iters as usize
    }
    pub fn window(&self) -> usize {
        self.window as usize
    }
    /// More than one job: every backend, or several providers or transport sets.
    pub fn is_sweep(&self) -> bool {
        self.backend.as_deref() == Some("all") || self.provider.len() > 1 || self.tls.len() > 1
    }
}

fn parse_plot(s: &str) -> Result<String, String> {
    let lower = s.to_ascii_lowercase();
    if lower.ends_with(".svg") || lower.ends_with(".png") {
        Ok(s.to_string())
    } else {
        Err("the file must end in .svg or .png".into())
    }
}

pub fn non_empty(s: &str) -> Result<String, String> {
    if s.trim().is_empty() { Err("must not be empty".into()) } else { Ok(s.to_string()) }
}

fn parse_ops(s: &str) -> Result<Ops, String> {
    let ops: Vec<String> =
        s.split(',').map(|o| o.trim().to_string()).filter(|o| !o.is_empty()).collect();
    if ops.is_empty() {
        return Err(format!("no operation given; known: {}", known_list()));
    }
    if let Some(bad) = ops.iter().find(|o| !known(o)) {
        return Err(format!("unknown op {bad:?}; known: {}", known_list()));
    }
    Ok(Ops(ops))
}

/// "8", "4K", "1M", "1G" (binary multiples), from 1 byte to [`MAX_SIZE`].
pub fn parse_size(s: &str) -> Result<usize, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, 'k' | 'K')) => (&s[..i], 1 << 10),
        Some((i, 'm' | 'M')) => (&s[..i], 1 << 20),
        Some((i, 'g' | 'G')) => (&s[..i], 1 << 30),
        _ => (s, 1),
    };
    let n = num
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("bad size {s:?}"))?;
    match n {
        0 => Err("a size must be at least 1 byte".into()),
        n if n > MAX_SIZE => Err(format!("size {s} is above the largest the harness takes (1G)")),
        n => Ok(n),
    }
}

pub fn parse_sizes(s: &str) -> Result<Sizes, String> {
    let v = s
        .split(',')
        .filter(|x| !x.trim().is_empty())
        .map(parse_size)
        .collect::<Result<Vec<_>, _>>()?;
    if v.is_empty() { Err("no size given".into()) } else { Ok(Sizes(v)) }
}

/// The transport's own rule for LAMELLAR_TIMEOUT: a positive, finite number of seconds.
fn parse_timeout(s: &str) -> Result<Duration, String> {
    lamellar_transport::config::parse_timeout(s)
        .ok_or_else(|| "must be a positive number of seconds".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("lamellar-bench").chain(v.iter().copied()))
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("8").unwrap(), 8);
        assert_eq!(parse_size("4K").unwrap(), 4096);
        assert_eq!(parse_size("1M").unwrap(), 1 << 20);
        assert_eq!(parse_size("1G").unwrap(), 1 << 30);
        for bad in ["x", "0", "2G", "64G", "99999999999999999999", "-1"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn defaults() {
        let a = p(&[]).unwrap();
        assert_eq!(a.ops().len(), ALL_OPS.len());
        assert_eq!(a.sizes(), &[8, 64, 4096, 1 << 20]);
        assert_eq!((a.iters(), a.window(), a.timeout, a.bind_cores), (10_000, 64, None, false));
    }

    #[test]
    fn every_bad_value_is_a_usage_error() {
        for args in [
            &["--ops", "put,teleport"][..],
            &["--ops", ""],
            &["--ops", ","],
            &["--sizes", "64G"],
            &["--sizes", ""],
            &["--timeout", "-1"],
            &["--timeout", "nan"],
            &["--timeout", "0"],
            &["--timeout", "inf"],
            &["--pes", "0"],
            &["--iters", "0"],
            &["--window", "-3"],
            &["--backend", "carrier-pigeon"],
            &["--provider", ""],
            &["--bind-to", "numa"],
            &["--frobnicate"],
            &["--tls", ""],
            &["--format", "csv"],
            &["--plot", "out.pdf"],
        ] {
            let e = p(args).expect_err(&format!("{args:?} accepted"));
            assert_eq!(e.exit_code(), 2, "{args:?}: {e}");
        }
    }

    #[test]
    fn values_parse() {
        let a = p(&[
            "-n",
            "3",
            "--ops",
            "put, get",
            "--sizes",
            "8,1M",
            "--timeout",
            "2.5",
            "--bind-to",
            "core",
            "--backend",
            "ucx",
        ])
        .unwrap();
        assert_eq!(
            (a.pes, a.ops(), a.sizes()),
            (Some(3), &["put".to_string(), "get".to_string()][..], &[8, 1 << 20][..])
        );
        assert_eq!(
            (a.timeout, a.bind_cores, a.backend.as_deref()),
            (Some(Duration::from_millis(2500)), true, Some("ucx"))
        );
        assert!(!a.is_sweep());
        let a = p(&[
            "--provider",
            "shm",
            "--provider",
            "tcp;ofi_rxm",
            "--tls",
            "tcp,self",
            "--plot",
            "x.SVG",
        ])
        .unwrap();
        assert_eq!((a.provider.len(), a.tls.len(), a.is_sweep()), (2, 1, true));
        assert!(p(&["--backend", "all"]).unwrap().is_sweep());
    }
}
