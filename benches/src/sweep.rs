//! Started by hand: one job of `--pes` PEs (2 for a sweep unless given) per backend and
//! provider / transport set, each under lamellar-run's library and writing its rows to a file
//! of its own; then every row together in `--json` and `--plot`. A combination that does not
//! work here is a row saying why, not the end of the sweep.

use crate::args::Args;
use lamellar_run::{JobSpec, run as run_job};
use serde_json::Value;

/// One job of the sweep: what it passes to its PEs.
#[derive(Debug, PartialEq)]
struct Combo {
    backend: Option<String>,
    provider: Option<String>,
    tls: Option<String>,
}

impl Combo {
    fn label(&self) -> String {
        let b = self.backend.as_deref().unwrap_or("default backend");
        match self.tls.as_ref().or(self.provider.as_ref()) {
            Some(p) => format!("{b} {p}"),
            None => b.to_string(),
        }
    }
}

/// Every combination the flags name: per backend, its providers (rofi) or transport sets
/// (ucx; `--provider` stands for `--tls` when the one backend is ucx).
fn combos(args: &Args) -> Vec<Combo> {
    let backends: Vec<Option<String>> = match args.backend.as_deref() {
        Some("all") => lamellar_transport::compiled_backends()
            .into_iter()
            .map(|b| Some(b.to_string()))
            .collect(),
        other => vec![other.map(str::to_string)],
    };
    let or_default = |v: &[String]| -> Vec<Option<String>> {
        if v.is_empty() { vec![None] } else { v.iter().cloned().map(Some).collect() }
    };
    let mut out = Vec::new();
    for backend in backends {
        match backend.as_deref() {
            Some("rofi") => out.extend(or_default(&args.provider).into_iter().map(|p| Combo {
                backend: backend.clone(),
                provider: p,
                tls: None,
            })),
            Some("ucx") => {
                let sets = if args.tls.is_empty() && args.backend.as_deref() == Some("ucx") {
                    &args.provider
                } else {
                    &args.tls
                };
                out.extend(or_default(sets).into_iter().map(|t| Combo {
                    backend: backend.clone(),
                    provider: None,
                    tls: t,
                }));
            }
            Some(_) => out.push(Combo { backend, provider: None, tls: None }),
            // The backend LAMELLAR_TRANSPORT or the build picks: the flags pass on as given.
            None => out.push(Combo {
                backend: None,
                provider: args.provider.first().cloned(),
                tls: args.tls.first().cloned(),
            }),
        }
    }
    out
}

/// The PE's command line for one combination: the measurement flags, one backend and
/// provider, and its own JSON file.
fn pe_args(args: &Args, c: &Combo, json: &std::path::Path) -> Vec<std::ffi::OsString> {
    let sizes: Vec<String> = args.sizes().iter().map(|s| s.to_string()).collect();
    let mut v: Vec<String> = vec![
        "--ops".into(),
        args.ops().join(","),
        "--sizes".into(),
        sizes.join(","),
        "--iters".into(),
        args.iters.to_string(),
        "--window".into(),
        args.window.to_string(),
        "--format".into(),
        args.format.clone(),
    ];
    if let Some(t) = args.timeout {
        v.extend(["--timeout".into(), t.as_secs_f64().to_string()]);
    }
    if let Some(pe) = args.target {
        v.extend(["--target".into(), pe.to_string()]);
    }
    for (flag, value) in [("--backend", &c.backend), ("--provider", &c.provider), ("--tls", &c.tls)]
    {
        if let Some(x) = value {
            v.extend([flag.to_string(), x.clone()]);
        }
    }
    let mut v: Vec<std::ffi::OsString> = v.into_iter().map(Into::into).collect();
    v.extend(["--json".into(), json.as_os_str().to_owned()]);
    v
}

/// Runs the sweep; the exit code: 0 when at least one combination measured.
pub fn run(args: &Args) -> i32 {
    let rows = match collect(args) {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!("lamellar-bench: {e}");
            return 1;
        }
    };
    let mut code = if rows.iter().any(|r| r.get("error").is_none()) { 0 } else { 1 };
    if let Some(path) = &args.json {
        let text: String = rows.iter().map(|r| format!("{r}\n")).collect();
        if let Err(e) = std::fs::write(path, text) {
            eprintln!("lamellar-bench: writing {path}: {e}");
            code = 1;
        }
    }
    if let Some(path) = &args.plot {
        if let Err(e) = crate::plot::write(path, &rows) {
            eprintln!("lamellar-bench: plotting to {path}: {e}");
            code = 1;
        }
    }
    code
}

/// Every combination's rows (each PE 0 prints its own table as it measures), and a row
/// `{"backend", "provider", "error"}` for each combination that failed.
pub fn collect(args: &Args) -> Result<Vec<Value>, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find own executable: {e}"))?;
    let dir = tempfile::tempdir().map_err(|e| format!("no temporary directory: {e}"))?;
    let pes = args.pes.map(|p| p as usize).unwrap_or(if args.is_sweep() { 2 } else { 1 });
    let mut rows = Vec::<Value>::new();
    for (i, c) in combos(args).iter().enumerate() {
        let json = dir.path().join(format!("{i}.json"));
        let mut spec = JobSpec::new(pes, &exe);
        spec.args = pe_args(args, c, &json);
        spec.bind_cores = args.bind_cores;
        let outcome = run_job(&spec);
        let lines: Vec<Value> = std::fs::read_to_string(&json)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let failed = match &outcome {
            Ok(o) if o.code == 0 => None,
            Ok(o) => Some(o.failure.clone().unwrap_or_else(|| format!("exit {}", o.code))),
            Err(e) => Some(format!("cannot launch: {e}")),
        };
        match failed {
            None => rows.extend(lines),
            Some(why) => {
                // The PE's own error if it wrote one, else the launcher's account.
                let why = lines
                    .iter()
                    .find_map(|l| l["error"].as_str().map(str::to_string))
                    .unwrap_or(why);
                println!("# {}: not measured: {why}", c.label());
                rows.push(serde_json::json!({
                    "backend": c.backend, "provider": c.tls.as_ref().or(c.provider.as_ref()), "error": why,
                }));
            }
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(v: &[&str]) -> Args {
        Args::try_parse_from(std::iter::once("lamellar-bench").chain(v.iter().copied())).unwrap()
    }

    #[test]
    fn every_backend_with_its_own_lists() {
        let c = combos(&args(&[
            "--backend",
            "all",
            "--provider",
            "shm",
            "--provider",
            "tcp;ofi_rxm",
            "--tls",
            "tcp,self",
        ]));
        let labels: Vec<String> = c.iter().map(Combo::label).collect();
        let compiled = lamellar_transport::compiled_backends();
        let mut want = Vec::new();
        for b in &compiled {
            match *b {
                "rofi" => want.extend(["rofi shm".to_string(), "rofi tcp;ofi_rxm".to_string()]),
                "ucx" => want.push("ucx tcp,self".to_string()),
                other => want.push(other.to_string()),
            }
        }
        assert_eq!(labels, want);
    }

    #[test]
    fn provider_is_the_transport_set_when_the_backend_is_ucx() {
        let c = combos(&args(&[
            "--backend",
            "ucx",
            "--provider",
            "tcp,self",
            "--provider",
            "posix,self",
        ]));
        assert_eq!(
            c.iter().map(|c| c.tls.clone().unwrap()).collect::<Vec<_>>(),
            ["tcp,self", "posix,self"]
        );
        assert!(c.iter().all(|c| c.provider.is_none()));
    }

    #[test]
    fn a_pe_gets_one_combination_and_its_own_file() {
        let a = args(&["--backend", "all", "--ops", "put", "--sizes", "8,1K", "--timeout", "5"]);
        let c = Combo { backend: Some("rofi".into()), provider: Some("shm".into()), tls: None };
        let v: Vec<String> = pe_args(&a, &c, std::path::Path::new("/tmp/x.json"))
            .into_iter()
            .map(|s| s.into_string().unwrap())
            .collect();
        let reparsed = args(&v.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(!reparsed.is_sweep());
        assert_eq!(
            (reparsed.backend.as_deref(), reparsed.provider.clone(), reparsed.sizes()),
            (Some("rofi"), vec!["shm".to_string()], &[8, 1024][..])
        );
        assert_eq!(
            (reparsed.json.as_deref(), reparsed.timeout),
            (Some("/tmp/x.json"), Some(std::time::Duration::from_secs(5)))
        );
    }
}
