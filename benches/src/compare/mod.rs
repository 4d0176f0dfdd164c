//! `lamellar-bench compare`: ours against the layer below, on this machine, in alternating
//! rounds (see verdict.rs for how a bar is judged on a noisy machine):
//! - rofi: `ofi-baseline` (raw libfabric, ROFI's provider selection and completion level):
//!   8 B put / get / fetch_add, put_nb 64 KiB and 1 MiB with a window of 64; and where it
//!   applies, libfabric's `fi_pingpong` (8 B send/receive) against put_pingpong;
//! - ucx: `ucx_perftest` (ucx-utils): ucp_put_lat / put_pingpong, ucp_get / get, ucp_fadd /
//!   fetch_add, ucp_cswap / compare_swap at 8 B, ucp_put_bw -O 64 / put_bw at 64 KiB and 1 MiB;
//! - shmem: the machine itself: half the cache-line round trip between two threads pinned to
//!   CPUs 0 and 1 against put_pingpong 8 B, memcpy against put_bw at 64 KiB and 1 MiB.
//!
//! Each round runs, per group of ops, a host-floor probe, one side, a probe, the other side, a
//! probe; the side that goes first alternates. One table row and one JSON line per op and size.
//!
//! With `--hosts A,B` both sides run across two hosts, one PE or process on each: our jobs
//! and ofi-baseline under hydra (`mpiexec.hydra -launcher ssh -hosts A,B`, through
//! `--launcher-exec` when given), ucx_perftest and fi_pingpong with the server on A and the
//! client on B, started through the same ssh or wrapper.

mod runners;
pub mod verdict;

use runners::{Group, Side};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Clone, Debug, clap::Args)]
pub struct CompareArgs {
    #[command(flatten)]
    pub fabrics: crate::args::Fabrics,
    /// Alternating rounds per backend and provider.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(2..))]
    pub rounds: u64,
    /// Latency bar: ours within this many times theirs.
    #[arg(long, default_value_t = 1.10, value_parser = positive)]
    pub latency_bar: f64,
    /// Bandwidth bar: ours at least this many times theirs.
    #[arg(long, default_value_t = 0.90, value_parser = positive)]
    pub bandwidth_bar: f64,
    /// A/B instead: this other lamellar-bench build is the baseline, on our ops (is a change
    /// faster?).
    #[arg(long, value_name = "LAMELLAR_BENCH")]
    pub against: Option<std::path::PathBuf>,
    /// VAR=VALUE for the --against side only (repeatable): one build under two settings.
    #[arg(long, value_name = "VAR=VALUE", value_parser = var_value, action = clap::ArgAction::Append, requires = "against")]
    pub against_env: Vec<(String, String)>,
    /// Write one JSON object per compared op and size to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<String>,
    /// Run both sides across these two hosts (one PE or process on each) instead of on this
    /// machine.
    #[arg(long, value_name = "A,B", value_parser = two_hosts)]
    pub hosts: Option<runners::Hosts>,
    /// What starts a command on a host, as ssh does (`CMD HOST COMMAND...`); with --hosts.
    #[arg(long, value_name = "CMD", default_value = "ssh", requires = "hosts")]
    pub launcher_exec: String,
}

fn two_hosts(s: &str) -> Result<runners::Hosts, String> {
    match s.split(',').map(str::trim).collect::<Vec<_>>()[..] {
        [a, b] if !a.is_empty() && !b.is_empty() && a != b => {
            Ok(runners::Hosts { server: a.into(), client: b.into(), exec: String::new() })
        }
        _ => Err("want two different host names, A,B".into()),
    }
}

fn var_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.into(), v.into())),
        _ => Err("want VAR=VALUE".into()),
    }
}

fn positive(s: &str) -> Result<f64, String> {
    s.parse::<f64>()
        .ok()
        .filter(|x| x.is_finite() && *x > 0.0)
        .ok_or_else(|| "must be a positive number".into())
}

/// One compared op and size: the JSON line (its fields are a contract: extend, never rename).
#[derive(Serialize)]
struct Row {
    backend: String,
    provider: String,
    baseline: String,
    op: String,
    bytes: usize,
    kind: &'static str,
    /// Medians over the judged rounds: ns for latency, MB/s for bandwidth.
    theirs: f64,
    ours: f64,
    ratio: f64,
    interval_lo: f64,
    interval_hi: f64,
    bar: f64,
    meets: bool,
    /// "clear" or "not resolved" (the bar lies inside the interval).
    resolved: &'static str,
    rounds: usize,
    judged_rounds: Vec<usize>,
    judged_why: String,
    theirs_rounds: Vec<f64>,
    ours_rounds: Vec<f64>,
    /// Per round, the host-floor probes (ns) before, between and after its two runs.
    floor_probes: Vec<Vec<f64>>,
    /// The two hosts both sides ran across (`--hosts`); absent for one machine.
    #[serde(skip_serializing_if = "Option::is_none")]
    hosts: Option<[String; 2]>,
}

/// What one backend/provider is compared on.
struct Suite {
    backend: &'static str,
    provider: String,
    baseline: String,
    groups: Vec<Group>,
}

fn suites(a: &CompareArgs) -> Vec<Suite> {
    let compiled = lamellar_transport::compiled_backends();
    let want = |b: &str| a.fabrics.wants(b) && compiled.contains(&b);
    let mut out = Vec::new();
    if want("shmem") {
        out.push(Suite {
            backend: "shmem",
            provider: "posix-shm".into(),
            baseline: "machine".into(),
            groups: runners::shmem_groups(),
        });
    }
    if want("rofi") {
        for p in a.fabrics.providers() {
            out.push(Suite {
                backend: "rofi",
                groups: runners::rofi_groups(&p),
                provider: p,
                baseline: "ofi-baseline and fi_pingpong".into(),
            });
        }
    }
    if want("ucx") {
        for t in a.fabrics.tls_sets() {
            out.push(Suite {
                backend: "ucx",
                groups: runners::ucx_groups(&t),
                provider: t,
                baseline: "ucx_perftest".into(),
            });
        }
    }
    if let Some(build) = &a.against {
        for s in &mut out {
            s.baseline = build.display().to_string();
            s.groups = std::mem::take(&mut s.groups)
                .into_iter()
                .map(|g| g.against(build, &a.against_env))
                .collect();
        }
    }
    out
}

pub fn run(a: &CompareArgs) -> i32 {
    let suites = suites(a);
    let hosts = a.hosts.clone().map(|h| runners::Hosts { exec: a.launcher_exec.clone(), ..h });
    if suites.is_empty() {
        eprintln!(
            "lamellar-bench compare: backend {} is not compiled in (build with --features rofi,ucx)",
            a.fabrics.backend
        );
        return 2;
    }
    let mut lines = Vec::new();
    let mut failed = false;
    for s in &suites {
        let place = hosts
            .as_ref()
            .map_or(String::new(), |h| format!(", across hosts {} and {}", h.server, h.client));
        println!(
            "# {} {} against {}, {} alternating rounds{place}",
            s.backend, s.provider, s.baseline, a.rounds
        );
        match compare_suite(s, a, hosts.as_ref()) {
            Ok(rows) => {
                for r in rows {
                    print_row(&r);
                    lines.push(serde_json::to_string(&r).expect("a row serializes"));
                }
            }
            Err(why) => {
                failed = true;
                println!("# {} {}: not compared: {why}", s.backend, s.provider);
                lines.push(serde_json::json!({"backend": s.backend, "provider": s.provider, "baseline": s.baseline, "error": why}).to_string());
            }
        }
    }
    if let Some(path) = &a.json {
        if let Err(e) =
            std::fs::write(path, lines.iter().map(|l| format!("{l}\n")).collect::<String>())
        {
            eprintln!("lamellar-bench compare: writing {path}: {e}");
            return 1;
        }
    }
    if failed { 1 } else { 0 }
}

fn compare_suite(
    s: &Suite,
    a: &CompareArgs,
    hosts: Option<&runners::Hosts>,
) -> Result<Vec<Row>, String> {
    // (op, bytes) -> per round (theirs, ours); per group, per round, the probes.
    let mut values: BTreeMap<(String, usize), (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    let mut probes: Vec<Vec<Vec<f64>>> = vec![Vec::new(); s.groups.len()];
    let mut group_of: BTreeMap<(String, usize), usize> = BTreeMap::new();
    for round in 0..a.rounds as usize {
        for (gi, g) in s.groups.iter().enumerate() {
            let order = if round % 2 == 0 {
                [Side::Theirs, Side::Ours]
            } else {
                [Side::Ours, Side::Theirs]
            };
            let mut p = vec![runners::probe()?];
            for side in order {
                let got = g.run(side, s.backend, &s.provider, hosts)?;
                for ((op, bytes), v) in got {
                    let e = values.entry((op.clone(), bytes)).or_default();
                    if side == Side::Theirs {
                        e.0.push(v)
                    } else {
                        e.1.push(v)
                    }
                    group_of.insert((op, bytes), gi);
                }
                p.push(runners::probe()?);
            }
            probes[gi].push(p);
        }
    }
    let mut rows = Vec::new();
    for ((op, bytes), (theirs, ours)) in values {
        if theirs.len() != ours.len() || theirs.len() != a.rounds as usize {
            return Err(format!(
                "{op} {bytes}: {} rounds of {}, {} of ours",
                theirs.len(),
                s.baseline,
                ours.len()
            ));
        }
        let kind = crate::report::kind_of(&op);
        let latency = kind == "latency";
        let gi = group_of[&(op.clone(), bytes)];
        let floor = &probes[gi];
        let judged = verdict::judged_rounds(floor, &theirs, &ours, latency);
        let pick = |v: &[f64]| judged.rounds.iter().map(|&i| v[i]).collect::<Vec<_>>();
        let (t, o) = (pick(&theirs), pick(&ours));
        let bar = if latency { a.latency_bar } else { a.bandwidth_bar };
        let j = verdict::judge(&o, &t, latency, bar);
        rows.push(Row {
            backend: s.backend.into(),
            provider: s.provider.clone(),
            baseline: s.groups[gi].baseline(),
            bytes,
            kind,
            theirs: verdict::median(&t),
            ours: verdict::median(&o),
            ratio: j.ratio,
            interval_lo: j.interval.0,
            interval_hi: j.interval.1,
            bar,
            meets: j.meets,
            resolved: if j.clear { "clear" } else { "not resolved" },
            rounds: theirs.len(),
            judged_rounds: judged.rounds,
            judged_why: judged.why,
            theirs_rounds: theirs,
            ours_rounds: ours,
            floor_probes: floor.clone(),
            hosts: hosts.map(|h| [h.server.clone(), h.client.clone()]),
            op,
        });
    }
    Ok(rows)
}

fn print_row(r: &Row) {
    let unit = if r.kind == "latency" { "ns" } else { "MB/s" };
    println!(
        "{:<13} {:>8}  {} {:>10.1}  ours {:>10.1} {:<4}  ratio {:.3} [90% {:.3}-{:.3}]  {} bar {:.2}, {}  ({} of {} rounds: {})",
        r.op,
        r.bytes,
        r.baseline,
        r.theirs,
        r.ours,
        unit,
        r.ratio,
        r.interval_lo,
        r.interval_hi,
        if r.meets { "meets" } else { "MISSES" },
        r.bar,
        r.resolved,
        r.judged_rounds.len(),
        r.rounds,
        r.judged_why
    );
}
