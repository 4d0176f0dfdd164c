//! One measurement, printed as a table row and written as one JSON object per line.
//! The JSON field names are a contract read by other tools: extend, never rename.

use std::fmt::Write as _;

#[derive(Clone, Debug)]
pub struct Measurement {
    pub backend: String,
    pub provider: String,
    pub op: String,
    pub bytes: usize,
    pub pes: usize,
    pub iters: usize,
    pub median_ns: f64,
    pub p99_ns: f64,
    /// "transport" for transport operations, "limits" for the machine's own ceilings.
    pub group: &'static str,
}

impl Measurement {
    pub fn mb_per_s(&self) -> f64 {
        if self.bytes == 0 { 0.0 } else { self.bytes as f64 * 1e3 / self.median_ns }
    }
    pub fn mops(&self) -> f64 {
        1e3 / self.median_ns
    }
}

pub fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn json_num(x: f64) -> String {
    if x.is_finite() { format!("{:.3}", x) } else { "null".into() }
}

/// The environment record embedded in every JSON line.
pub fn env_json() -> String {
    let mut host = [0u8; 256];
    // SAFETY: gethostname writes at most host.len() bytes into our buffer.
    let host = if unsafe { libc::gethostname(host.as_mut_ptr().cast(), host.len()) } == 0 {
        String::from_utf8_lossy(&host[..host.iter().position(|&b| b == 0).unwrap_or(0)]).into_owned()
    } else {
        "unknown".into()
    };
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let mut vars: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| ["LAMELLAR_", "ROFI_", "UCX_", "FI_"].iter().any(|p| k.starts_with(p)))
        .collect();
    vars.sort();
    let vars: Vec<String> = vars.iter().map(|(k, v)| format!("{}:{}", json_str(k), json_str(v))).collect();
    format!(
        "{{\"host\":{},\"cores\":{cores},\"rustc\":{},\"git_commit\":{},\"vars\":{{{}}}}}",
        json_str(&host),
        json_str(env!("LB_RUSTC_VERSION")),
        json_str(env!("LB_GIT_COMMIT")),
        vars.join(",")
    )
}

pub fn to_json(m: &Measurement, env: &str) -> String {
    format!(
        "{{\"backend\":{},\"provider\":{},\"op\":{},\"group\":{},\"bytes\":{},\"pes\":{},\"iters\":{},\"median_ns\":{},\"p99_ns\":{},\"mb_per_s\":{},\"mops\":{},\"env\":{env}}}",
        json_str(&m.backend),
        json_str(&m.provider),
        json_str(&m.op),
        json_str(m.group),
        m.bytes,
        m.pes,
        m.iters,
        json_num(m.median_ns),
        json_num(m.p99_ns),
        json_num(m.mb_per_s()),
        json_num(m.mops()),
    )
}

pub fn table_header() -> String {
    format!("{:<14} {:>9} {:>4} {:>12} {:>12} {:>11} {:>9}", "op", "bytes", "pes", "median(ns)", "p99(ns)", "MB/s", "Mops/s")
}

pub fn table_row(m: &Measurement) -> String {
    format!(
        "{:<14} {:>9} {:>4} {:>12.1} {:>12.1} {:>11.1} {:>9.3}",
        m.op,
        m.bytes,
        m.pes,
        m.median_ns,
        m.p99_ns,
        m.mb_per_s(),
        m.mops()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_contract_fields() {
        let m = Measurement {
            backend: "shmem".into(),
            provider: "posix-shm".into(),
            op: "put".into(),
            bytes: 8,
            pes: 2,
            iters: 100,
            median_ns: 20.0,
            p99_ns: 30.0,
            group: "transport",
        };
        let j = to_json(&m, &env_json());
        for f in ["backend", "provider", "op", "bytes", "pes", "iters", "median_ns", "p99_ns", "mb_per_s", "mops", "env", "host", "cores", "rustc", "git_commit"] {
            assert!(j.contains(&format!("\"{f}\":")), "missing {f} in {j}");
        }
        assert!(j.contains("\"mb_per_s\":400.000"), "{j}");
        assert!(j.contains("\"mops\":50.000"), "{j}");
        assert_eq!(json_str("a\"b\n"), "\"a\\\"b\\u000a\"");
    }
}
