//! `lamellar-bench tune`: across every backend and provider / transport set that works here,
//! for each message size the fastest for put and for get, and whether a window of
//! non-blocking operations beats blocking ones there; ends with the environment to export
//! for the combination that won most sizes.

use crate::args::{Args, Sizes};
use clap::Parser;
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Clone, Debug, clap::Args)]
pub struct TuneArgs {
    #[command(flatten)]
    pub fabrics: crate::args::Fabrics,
    /// Message sizes, one size class each.
    #[arg(long, value_parser = crate::args::parse_sizes, default_value = "8,512,4K,64K,1M")]
    pub sizes: Sizes,
    /// Operations per measurement.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..))]
    pub iters: u64,
    /// Window of non-blocking operations.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..))]
    pub window: u64,
    /// Write the advice as JSON lines to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<String>,
}

/// The sweep behind the advice: put, put_nb, get, get_nb at every size, two PEs pinned.
fn sweep_args(a: &TuneArgs) -> Result<Args, clap::Error> {
    let sizes: Vec<String> = a.sizes.0.iter().map(usize::to_string).collect();
    let mut v: Vec<String> = [
        "lamellar-bench",
        "--pes",
        "2",
        "--bind-to",
        "core",
        "--backend",
        &a.fabrics.backend,
        "--ops",
        "put,put_nb,get,get_nb",
    ]
    .map(String::from)
    .to_vec();
    v.extend([
        "--sizes".into(),
        sizes.join(","),
        "--iters".into(),
        a.iters.to_string(),
        "--window".into(),
        a.window.to_string(),
    ]);
    if a.fabrics.wants("rofi") {
        a.fabrics.providers().into_iter().for_each(|p| v.extend(["--provider".into(), p]));
    }
    if a.fabrics.wants("ucx") {
        a.fabrics.tls_sets().into_iter().for_each(|t| v.extend(["--tls".into(), t]));
    }
    Args::try_parse_from(v)
}

/// The fastest way to do one op at one size.
#[derive(Debug, PartialEq, serde::Serialize)]
struct Advice {
    bytes: usize,
    op: &'static str,
    backend: String,
    provider: String,
    /// ns per operation, the better of blocking and windowed.
    ns: f64,
    windowed_beats_blocking: bool,
    /// Windowed time per op over blocking time per op, for the winner.
    windowed_over_blocking: f64,
}

type Combo = (String, String);

fn advise(rows: &[Value], sizes: &[usize]) -> Vec<Advice> {
    // (backend, provider) -> (op, bytes) -> ns per op
    let mut t: BTreeMap<Combo, BTreeMap<(String, usize), f64>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.get("error").is_none()) {
        let (Some(b), Some(p), Some(op), Some(bytes), Some(ns)) = (
            r["backend"].as_str(),
            r["provider"].as_str(),
            r["op"].as_str(),
            r["bytes"].as_u64(),
            r["median_ns"].as_f64(),
        ) else {
            continue;
        };
        t.entry((b.into(), p.into())).or_default().insert((op.into(), bytes as usize), ns);
    }
    let mut out = Vec::new();
    for &bytes in sizes {
        for (op, nb) in [("put", "put_nb"), ("get", "get_nb")] {
            let best = t
                .iter()
                .filter_map(|(c, m)| {
                    Some((c, *m.get(&(op.to_string(), bytes))?, *m.get(&(nb.to_string(), bytes))?))
                })
                .min_by(|x, y| x.1.min(x.2).total_cmp(&y.1.min(y.2)));
            if let Some(((backend, provider), blocking, windowed)) = best {
                out.push(Advice {
                    bytes,
                    op,
                    backend: backend.clone(),
                    provider: provider.clone(),
                    ns: blocking.min(windowed),
                    windowed_beats_blocking: windowed < blocking,
                    windowed_over_blocking: windowed / blocking,
                });
            }
        }
    }
    out
}

/// The combination that won most (size, op) cells (ties: the first), as variables to export.
fn export_line(advice: &[Advice]) -> Option<String> {
    let mut wins: BTreeMap<Combo, usize> = BTreeMap::new();
    for a in advice {
        *wins.entry((a.backend.clone(), a.provider.clone())).or_default() += 1;
    }
    let most = *wins.values().max()?;
    let ((backend, provider), _) = wins.into_iter().find(|(_, n)| *n == most)?;
    Some(match backend.as_str() {
        "rofi" => format!("export LAMELLAR_TRANSPORT=rofi ROFI_PROVIDER='{provider}'"),
        "ucx" => format!("export LAMELLAR_TRANSPORT=ucx UCX_TLS='{provider}'"),
        b => format!("export LAMELLAR_TRANSPORT={b}"),
    })
}

pub fn run(a: &TuneArgs) -> i32 {
    let args = match sweep_args(a) {
        Ok(x) => x,
        Err(e) => e.exit(),
    };
    let rows = match crate::sweep::collect(&args) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("lamellar-bench tune: {e}");
            return 1;
        }
    };
    let advice = advise(&rows, &a.sizes.0);
    println!(
        "\n# fastest per size (ns per operation; windowed = {} non-blocking operations, then completion)",
        a.window
    );
    println!(
        "{:>9}  {:<4} {:<34} {:>11}  windowed vs blocking",
        "bytes", "op", "backend provider", "ns/op"
    );
    for x in &advice {
        let how = if x.windowed_beats_blocking { "windowed wins" } else { "blocking wins" };
        println!(
            "{:>9}  {:<4} {:<34} {:>11.1}  {how} ({:.2}x the blocking time)",
            x.bytes,
            x.op,
            format!("{} {}", x.backend, x.provider),
            x.ns,
            x.windowed_over_blocking
        );
    }
    for r in rows.iter().filter_map(|r| r["error"].as_str().map(|e| (r, e))) {
        println!(
            "# not measured: {} {}: {}",
            r.0["backend"].as_str().unwrap_or("?"),
            r.0["provider"].as_str().unwrap_or(""),
            r.1
        );
    }
    let Some(export) = export_line(&advice) else {
        eprintln!("lamellar-bench tune: nothing could be measured here");
        return 1;
    };
    println!("{export}");
    if let Some(path) = &a.json {
        let mut text: String = advice
            .iter()
            .map(|x| format!("{}\n", serde_json::to_string(x).expect("advice serializes")))
            .collect();
        text.push_str(&format!("{}\n", serde_json::json!({ "export": export })));
        if let Err(e) = std::fs::write(path, text) {
            eprintln!("lamellar-bench tune: writing {path}: {e}");
            return 1;
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(b: &str, p: &str, op: &str, bytes: usize, ns: f64) -> Value {
        serde_json::json!({"backend": b, "provider": p, "op": op, "bytes": bytes, "median_ns": ns})
    }

    #[test]
    fn the_fastest_per_size_and_whether_windows_win() {
        let rows = vec![
            row("rofi", "shm", "put", 8, 600.0),
            row("rofi", "shm", "put_nb", 8, 200.0),
            row("ucx", "tcp,self", "put", 8, 20000.0),
            row("ucx", "tcp,self", "put_nb", 8, 9000.0),
            row("rofi", "shm", "put", 1024, 900.0),
            row("rofi", "shm", "put_nb", 1024, 950.0),
            row("ucx", "tcp,self", "put", 1024, 800.0),
            row("ucx", "tcp,self", "put_nb", 1024, 1200.0),
            serde_json::json!({"backend": "rofi", "provider": "verbs", "error": "no device"}),
        ];
        let a = advise(&rows, &[8, 1024]);
        assert_eq!(a.len(), 2, "no get rows: no get advice");
        assert_eq!(
            (a[0].backend.as_str(), a[0].provider.as_str(), a[0].ns, a[0].windowed_beats_blocking),
            ("rofi", "shm", 200.0, true)
        );
        assert_eq!(
            (a[1].backend.as_str(), a[1].ns, a[1].windowed_beats_blocking),
            ("ucx", 800.0, false)
        );
        assert!((a[1].windowed_over_blocking - 1.5).abs() < 1e-9);
        // One win each: the first in order.
        assert_eq!(export_line(&a).unwrap(), "export LAMELLAR_TRANSPORT=rofi ROFI_PROVIDER='shm'");
        assert_eq!(export_line(&[]), None);
    }

    #[test]
    fn defaults_sweep_every_provider_and_transport_set() {
        let fabrics = crate::args::Fabrics { backend: "all".into(), provider: vec![], tls: vec![] };
        let a = TuneArgs { fabrics, sizes: Sizes(vec![8]), iters: 10, window: 4, json: None };
        let s = sweep_args(&a).unwrap();
        assert_eq!((s.provider.len(), s.tls.len(), s.is_sweep(), s.bind_cores), (2, 2, true, true));
        let a = TuneArgs {
            fabrics: crate::args::Fabrics { backend: "shmem".into(), ..a.fabrics },
            ..a
        };
        assert!(sweep_args(&a).unwrap().provider.is_empty());
    }
}
