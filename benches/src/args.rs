//! Command line: `lamellar-bench --pes N [--backend B] [--provider P] [--ops LIST]
//! [--sizes LIST] [--iters K] [--json FILE]`.

use std::time::Duration;

pub const ALL_OPS: [&str; 10] = ["put", "put_pingpong", "get", "put_nb", "put_bw", "get_nb", "fetch_add", "compare_swap", "barrier", "limits"];
pub const USAGE: &str = "usage: lamellar-bench --pes N [--backend shmem|rofi|ucx] [--provider P] \
[--ops put,put_pingpong,get,put_nb,put_bw,get_nb,fetch_add,compare_swap,barrier,limits] [--sizes 8,64,4K,1M] \
[--iters K] [--window W] [--json FILE] [--timeout SECS] [--bind-to core|none]";

#[derive(Clone, Debug)]
pub struct Args {
    pub pes: Option<usize>,
    pub backend: Option<String>,
    pub provider: Option<String>,
    pub ops: Vec<String>,
    pub sizes: Vec<usize>,
    pub iters: usize,
    pub window: usize,
    pub json: Option<String>,
    pub timeout: Duration,
    /// Pin each PE to one CPU when we launch them (lamellar-run's `--bind-to core`).
    pub bind_cores: bool,
}

/// "8", "4K", "1M", "2G" (binary multiples).
pub fn parse_size(s: &str) -> Result<usize, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, 'k' | 'K')) => (&s[..i], 1 << 10),
        Some((i, 'm' | 'M')) => (&s[..i], 1 << 20),
        Some((i, 'g' | 'G')) => (&s[..i], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<usize>().ok().and_then(|n| n.checked_mul(mult)).ok_or_else(|| format!("bad size {s:?}"))
}

pub fn parse(argv: &[String]) -> Result<Args, String> {
    let mut a = Args {
        pes: None,
        backend: None,
        provider: None,
        ops: ALL_OPS.iter().map(|s| s.to_string()).collect(),
        sizes: vec![8, 64, 4096, 1 << 20],
        iters: 10_000,
        window: 64,
        json: None,
        timeout: Duration::from_secs(600),
        bind_cores: false,
    };
    let mut it = argv.iter();
    while let Some(flag) = it.next() {
        let mut val = || it.next().cloned().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--pes" | "-n" => a.pes = Some(val()?.parse().map_err(|_| "--pes needs a number")?),
            "--backend" => a.backend = Some(val()?),
            "--provider" => a.provider = Some(val()?),
            "--ops" => {
                a.ops = val()?.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
                if let Some(bad) = a.ops.iter().find(|o| !ALL_OPS.contains(&o.as_str())) {
                    return Err(format!("unknown op {bad:?}; known: {}", ALL_OPS.join(",")));
                }
            }
            "--sizes" => a.sizes = val()?.split(',').map(parse_size).collect::<Result<_, _>>()?,
            "--iters" => a.iters = val()?.parse().ok().filter(|&k| k > 0).ok_or("--iters needs a positive number")?,
            "--window" => a.window = val()?.parse().ok().filter(|&k| k > 0).ok_or("--window needs a positive number")?,
            "--json" => a.json = Some(val()?),
            "--timeout" => a.timeout = Duration::from_secs_f64(val()?.parse().map_err(|_| "--timeout needs seconds")?),
            "--bind-to" => a.bind_cores = lamellar_run::parse_bind_to(&val()?)?,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if a.pes == Some(0) {
        return Err("--pes must be at least 1".into());
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("8").unwrap(), 8);
        assert_eq!(parse_size("4K").unwrap(), 4096);
        assert_eq!(parse_size("1M").unwrap(), 1 << 20);
        assert!(parse_size("x").is_err());
    }

    #[test]
    fn rejects_unknown_op() {
        let argv: Vec<String> = ["--ops", "put,teleport"].iter().map(|s| s.to_string()).collect();
        assert!(parse(&argv).unwrap_err().contains("teleport"));
    }

    #[test]
    fn bind_to() {
        let p = |v: &[&str]| parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert!(!p(&[]).unwrap().bind_cores);
        assert!(p(&["--bind-to", "core"]).unwrap().bind_cores);
        assert!(!p(&["--bind-to", "none"]).unwrap().bind_cores);
        assert!(p(&["--bind-to", "numa"]).unwrap_err().contains("core or none"));
    }
}
