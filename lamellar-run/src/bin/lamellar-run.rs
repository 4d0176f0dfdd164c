//! `lamellar-run -n N [--timeout SECS] [--label] [--bind-to core|none] [--] PROGRAM [ARGS...]`
//!
//! Starts N PEs of PROGRAM on this node and serves them PMI-1 (PMI_FD, PMI_RANK, PMI_SIZE).
//! Exits with the first failing PE's status (naming it), 124 on timeout, 0 when all succeed.
//! `--bind-to core` pins PE i to the i-th allowed CPU, round robin (hydra's `-bind-to core`).

use lamellar_run::{JobSpec, parse_bind_to, run};
use std::ffi::OsString;
use std::time::Duration;

const USAGE: &str = "usage: lamellar-run -n N [--timeout SECS] [--label] [--bind-to core|none] [--] PROGRAM [ARGS...]";

fn parse(mut args: impl Iterator<Item = OsString>) -> Result<JobSpec, String> {
    let mut pes = None;
    let mut timeout = None;
    let mut label = false;
    let mut bind_cores = false;
    let program = loop {
        let a = args.next().ok_or("missing PROGRAM")?;
        let s = a.to_string_lossy().into_owned();
        let mut value = |name: &str| {
            args.next()
                .map(|v| v.to_string_lossy().into_owned())
                .ok_or(format!("{name} needs a value"))
        };
        match s.as_str() {
            "-n" | "-np" | "--pes" => {
                pes = Some(value(&s)?.parse::<usize>().map_err(|_| "-n needs a positive number")?)
            }
            "--timeout" => {
                let t: f64 = value(&s)?.parse().map_err(|_| "--timeout needs seconds")?;
                if !(t.is_finite() && t > 0.0) {
                    return Err("--timeout needs a positive number of seconds".into());
                }
                timeout = Some(Duration::from_secs_f64(t));
            }
            "--label" => label = true,
            "--bind-to" | "-bind-to" => bind_cores = parse_bind_to(&value(&s)?)?,
            "-h" | "--help" => return Err(String::new()),
            "--" => break args.next().ok_or("missing PROGRAM after --")?,
            _ if s.starts_with('-') => return Err(format!("unknown option {s}")),
            _ => break a,
        }
    };
    let pes = pes.filter(|&n| n > 0).ok_or("-n N (N >= 1) is required")?;
    let mut spec = JobSpec::new(pes, program);
    spec.args = args.collect();
    spec.timeout = timeout;
    spec.label = label;
    spec.bind_cores = bind_cores;
    Ok(spec)
}

fn main() {
    let spec = match parse(std::env::args_os().skip(1)) {
        Ok(s) => s,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("lamellar-run: {e}");
            }
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    match run(&spec) {
        Ok(out) => {
            if let Some(why) = &out.failure {
                eprintln!("lamellar-run: {why}");
            }
            std::process::exit(out.code);
        }
        Err(e) => {
            eprintln!("lamellar-run: {e}");
            std::process::exit(1);
        }
    }
}
