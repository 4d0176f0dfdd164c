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
    /// Kernels: million updates per second per PE, and for the job.
    pub mups: Option<f64>,
    pub mups_total: Option<f64>,
    /// Transport operations: the PE measured against, and the path to it
    /// (`Transport::path_to`: "shared_memory" or "network").
    pub target: Option<usize>,
    pub path: Option<&'static str>,
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
        kind_of(&self.op)
    }
}

/// "bandwidth" for streams (judge `mb_per_s`), "rate" for the kernels (judge `mups`),
/// "latency" for the rest (judge `median_ns`).
pub fn kind_of(op: &str) -> &'static str {
    match op {
        "put_nb" | "get_nb" | "put_bw" | "memcpy" => "bandwidth",
        op if crate::kernels::KERNELS.contains(&op) || op == "random_xadd" || op == "msg_rate" => {
            "rate"
        }
        _ => "latency",
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
            String::from_utf8_lossy(&host[..host.iter().position(|&b| b == 0).unwrap_or(0)])
                .into_owned()
        } else {
            "unknown".into()
        };
        Env {
            host,
            cores: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            rustc: env!("LB_RUSTC_VERSION"),
            git_commit: env!("LB_GIT_COMMIT"),
            vars: std::env::vars()
                .filter(|(k, _)| {
                    ["LAMELLAR_", "ROFI_", "UCX_", "FI_"].iter().any(|p| k.starts_with(p))
                })
                .collect(),
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
    #[serde(skip_serializing_if = "Option::is_none")]
    mups: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mups_total: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<&'a str>,
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
        mups: m.mups,
        mups_total: m.mups_total,
        target: m.target,
        path: m.path,
        env,
    };
    // Serializing plain fields, strings and a string map cannot fail; non-finite floats
    // become null.
    serde_json::to_string(&line).expect("a measurement serializes")
}

pub fn table_header() -> String {
    format!(
        "{:<16} {:>9} {:>4} {:>12} {:>12} {:>11} {:>9}",
        "op", "bytes", "pes", "median(ns)", "p99(ns)", "MB/s", "Mops/s"
    )
}

pub fn table_row(m: &Measurement) -> String {
    format!(
        "{:<16} {:>9} {:>4} {:>12.1} {:>12.1} {:>11.1} {:>9.3}",
        m.op,
        m.bytes,
        m.pes,
        m.median_ns,
        m.p99_ns,
        m.mb_per_s(),
        m.mops()
    )
}

/// OSU micro-benchmarks' title for the ops OSU's OpenSHMEM tests have (None: no counterpart).
pub fn osu_title(op: &str) -> Option<&'static str> {
    Some(match op {
        "put" => "OSU OpenSHMEM Put Test",
        "get" => "OSU OpenSHMEM Get Test",
        "put_nb" => "OSU OpenSHMEM Put_nb Test",
        "get_nb" => "OSU OpenSHMEM Get_nb Test",
        "put_bw" => "OSU OpenSHMEM Put Bandwidth Test",
        "fetch_add" | "compare_swap" => "OSU OpenSHMEM Atomic Operation Rate Test",
        "barrier" => "OSU OpenSHMEM Barrier Latency Test",
        _ => return None,
    })
}

/// The column header under an OSU title.
pub fn osu_columns(op: &str) -> &'static str {
    match op {
        "fetch_add" | "compare_swap" => {
            "# Operation                   Million ops/s      Latency (us)"
        }
        "barrier" => "# Size       Avg Latency(us)",
        _ if kind_of(op) == "bandwidth" => "# Size      Bandwidth (MB/s)",
        _ => "# Size          Latency (us)",
    }
}

/// One row in OSU's layout: size left in 10 columns, the figure right in 18, two decimals.
pub fn osu_row(m: &Measurement) -> String {
    let us = m.median_ns / 1e3;
    match m.op.as_str() {
        "fetch_add" => {
            format!("{:<30}{:>12.2}{:>18.2}", "shmem_uint64_atomic_fetch_add", m.mops(), us)
        }
        "compare_swap" => {
            format!("{:<30}{:>12.2}{:>18.2}", "shmem_uint64_atomic_compare_swap", m.mops(), us)
        }
        _ if m.kind() == "bandwidth" => format!("{:<10}{:>18.2}", m.bytes, m.mb_per_s()),
        _ => format!("{:<10}{:>18.2}", m.bytes, us),
    }
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
            mups: None,
            mups_total: None,
            target: None,
            path: None,
        }
    }

    #[test]
    fn json_has_contract_fields() {
        let j: serde_json::Value =
            serde_json::from_str(&to_json(&m("put", 20.0), &Env::here())).unwrap();
        for f in [
            "backend",
            "provider",
            "op",
            "group",
            "kind",
            "bytes",
            "pes",
            "iters",
            "median_ns",
            "p99_ns",
            "mb_per_s",
            "mops",
            "native_library",
            "env",
        ] {
            assert!(j.get(f).is_some(), "missing {f} in {j}");
        }
        for f in ["host", "cores", "rustc", "git_commit", "vars"] {
            assert!(j["env"].get(f).is_some(), "missing env.{f} in {j}");
        }
        assert_eq!((j["mb_per_s"].as_f64(), j["mops"].as_f64()), (Some(400.0), Some(50.0)));
        assert_eq!(
            (j["kind"].as_str(), j["native_library"].as_str()),
            (Some("latency"), Some("libfabric 1.17"))
        );
    }

    #[test]
    fn streams_are_bandwidth_and_a_failed_figure_is_null() {
        assert_eq!(m("put_bw", 1.0).kind(), "bandwidth");
        assert_eq!(m("get_nb", 1.0).kind(), "bandwidth");
        assert_eq!(m("fetch_add", 1.0).kind(), "latency");
        assert_eq!(m("histo_agg", 1.0).kind(), "rate");
        let j: serde_json::Value =
            serde_json::from_str(&to_json(&m("put", f64::NAN), &Env::here())).unwrap();
        assert!(j["median_ns"].is_null(), "{j}");
    }

    #[test]
    fn osu_layout() {
        assert_eq!(osu_title("put"), Some("OSU OpenSHMEM Put Test"));
        assert_eq!(osu_title("put_pingpong"), None);
        assert_eq!(osu_row(&m("put", 1500.0)), format!("{:<10}{:>18}", 8, "1.50"));
        let mut bw = m("put_bw", 1e6);
        bw.bytes = 1 << 20;
        assert_eq!(osu_row(&bw), format!("{:<10}{:>18}", 1 << 20, "1048.58"));
        assert!(osu_row(&m("fetch_add", 2000.0)).starts_with("shmem_uint64_atomic_fetch_add"));
        assert_eq!(osu_columns("put_bw"), "# Size      Bandwidth (MB/s)");
    }
}
