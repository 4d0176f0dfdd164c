//! One measurement, printed as a table row and written as one JSON object per line.
//! The JSON field names are a contract read by other tools: extend, never rename.

use serde::Serialize;

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
    /// The native library as loaded (`Transport::native_library`), None for shmem.
    pub native_library: Option<String>,
}

impl Measurement {
    pub fn mb_per_s(&self) -> f64 {
        if self.bytes == 0 { 0.0 } else { self.bytes as f64 * 1e3 / self.median_ns }
    }
    pub fn mops(&self) -> f64 {
        1e3 / self.median_ns
    }
    /// What the figure measures: a time per operation ("latency", judged by `median_ns`,
    /// lower is better) or a rate ("bandwidth", judged by `mb_per_s`, higher is better).
    pub fn kind(&self) -> &'static str {
        match self.op.as_str() {
            "put_nb" | "get_nb" | "put_bw" | "memcpy" => "bandwidth",
            _ => "latency",
        }
    }
}

/// Where and with what a measurement was made: embedded in every JSON line.
#[derive(Clone, Debug, Serialize)]
pub struct Env {
    host: String,
    cores: usize,
    rustc: &'static str,
    git_commit: &'static str,
    /// Every LAMELLAR_*, ROFI_*, UCX_* and FI_* variable, sorted.
    vars: std::collections::BTreeMap<String, String>,
}

impl Env {
    pub fn here() -> Env {
        let mut host = [0u8; 256];
        // SAFETY: gethostname writes at most host.len() bytes into our buffer.
        let host = if unsafe { libc::gethostname(host.as_mut_ptr().cast(), host.len()) } == 0 {
            String::from_utf8_lossy(&host[..host.iter().position(|&b| b == 0).unwrap_or(0)]).into_owned()
        } else {
            "unknown".into()
        };
        Env {
            host,
            cores: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            rustc: env!("LB_RUSTC_VERSION"),
            git_commit: env!("LB_GIT_COMMIT"),
            vars: std::env::vars().filter(|(k, _)| ["LAMELLAR_", "ROFI_", "UCX_", "FI_"].iter().any(|p| k.starts_with(p))).collect(),
        }
    }
}

/// One JSON line. The field names are a contract: extend, never rename.
#[derive(Serialize)]
struct Line<'a> {
    backend: &'a str,
    provider: &'a str,
    op: &'a str,
    group: &'a str,
    kind: &'a str,
    bytes: usize,
    pes: usize,
    iters: usize,
    median_ns: f64,
    p99_ns: f64,
    mb_per_s: f64,
    mops: f64,
    native_library: Option<&'a str>,
    env: &'a Env,
}

pub fn to_json(m: &Measurement, env: &Env) -> String {
    let line = Line {
        backend: &m.backend,
        provider: &m.provider,
        op: &m.op,
        group: m.group,
        kind: m.kind(),
        bytes: m.bytes,
        pes: m.pes,
        iters: m.iters,
        median_ns: m.median_ns,
        p99_ns: m.p99_ns,
        mb_per_s: m.mb_per_s(),
        mops: m.mops(),
        native_library: m.native_library.as_deref(),
        env,
    };
    // Serializing plain fields, strings and a string map cannot fail; non-finite floats
    // become null.
    serde_json::to_string(&line).expect("a measurement serializes")
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

    fn m(op: &str, median_ns: f64) -> Measurement {
        Measurement {
            backend: "rofi".into(),
            provider: "tcp;ofi_rxm".into(),
            op: op.into(),
            bytes: 8,
            pes: 2,
            iters: 100,
            median_ns,
            p99_ns: 30.0,
            group: "transport",
            native_library: Some("libfabric 1.17".into()),
        }
    }

    #[test]
    fn json_has_contract_fields() {
        let j: serde_json::Value = serde_json::from_str(&to_json(&m("put", 20.0), &Env::here())).unwrap();
        for f in ["backend", "provider", "op", "group", "kind", "bytes", "pes", "iters", "median_ns", "p99_ns", "mb_per_s", "mops", "native_library", "env"] {
            assert!(j.get(f).is_some(), "missing {f} in {j}");
        }
        for f in ["host", "cores", "rustc", "git_commit", "vars"] {
            assert!(j["env"].get(f).is_some(), "missing env.{f} in {j}");
        }
        assert_eq!((j["mb_per_s"].as_f64(), j["mops"].as_f64()), (Some(400.0), Some(50.0)));
        assert_eq!((j["kind"].as_str(), j["native_library"].as_str()), (Some("latency"), Some("libfabric 1.17")));
    }

    #[test]
    fn streams_are_bandwidth_and_a_failed_figure_is_null() {
        assert_eq!(m("put_bw", 1.0).kind(), "bandwidth");
        assert_eq!(m("get_nb", 1.0).kind(), "bandwidth");
        assert_eq!(m("fetch_add", 1.0).kind(), "latency");
        let j: serde_json::Value = serde_json::from_str(&to_json(&m("put", f64::NAN), &Env::here())).unwrap();
        assert!(j["median_ns"].is_null(), "{j}");
    }
}
