//! The two sides of a comparison: our harness as a job of two PEs pinned to CPUs 0 and 1,
//! and the layer below (ofi-baseline as a job, ucx_perftest as server and client pinned to
//! CPUs 1 and 0, or the machine measured in this process).

use lamellar_bench::{cacheline, stats};
use lamellar_run::{JobSpec, run as run_job};
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};

/// Two hosts to run across: PE 0 / the server on `server`, PE 1 / the client on `client`,
/// each command started by `exec HOST COMMAND` (ssh, or a wrapper that acts like it).
#[derive(Clone, Debug)]
pub struct Hosts {
    pub server: String,
    pub client: String,
    pub exec: String,
}

impl Hosts {
    /// `exec HOST exec env VAR=VALUE... TOOL ARGS...`: the environment travels in the command
    /// (ssh does not pass it on), and the tool replaces the remote shell, so that ending the
    /// local end ends it where the wrapper or ssh forwards the hang-up.
    fn command(&self, host: &str, env: &[(&str, &str)], tool: &str, args: &[String]) -> Command {
        let mut c = Command::new(&self.exec);
        c.arg(host)
            .args(["exec", "env"])
            .args(env.iter().map(|(k, v)| format!("{k}={}", shell_quote(v))))
            .arg(tool)
            .args(args.iter().map(|a| shell_quote(a)));
        c
    }
}

/// `s` as one word for the remote shell.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// One measured value per (op, bytes): ns for latency ops, MB/s for bandwidth ones.
pub type Values = Vec<((String, usize), f64)>;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Side {
    Theirs,
    Ours,
}

/// The layer below, for one group.
#[derive(Clone, Debug)]
enum Theirs {
    /// `OFI_BASELINE_OPS=latency|bandwidth`.
    OfiBaseline(&'static str),
    /// A ucx_perftest test, size and iteration count (with -O 64 for ucp_put_bw), on the
    /// combination's transports or on these.
    Perftest(&'static str, usize, usize, Option<&'static str>),
    /// Half a cache-line round trip between CPUs 0 and 1.
    CacheLine,
    /// memcpy of each size in one thread.
    Memcpy,
    /// libfabric's fi_pingpong (libfabric-bin): an 8 B send/receive ping-pong on an RDM
    /// endpoint of the provider, server on CPU 1, client on CPU 0, this many iterations;
    /// against our op of that name.
    FiPingpong(usize, &'static str),
    /// Another build of lamellar-bench (and settings for it alone), on our own ops.
    Build(PathBuf, Vec<(String, String)>),
}

/// Ops measured together, by both sides, within one round.
#[derive(Clone, Debug)]
pub struct Group {
    theirs: Theirs,
    ops: &'static str,
    sizes: Vec<usize>,
    iters: usize,
}

const WINDOW: usize = 64;

pub fn rofi_groups(_provider: &str) -> Vec<Group> {
    vec![
        Group {
            theirs: Theirs::OfiBaseline("latency"),
            ops: "put,get,fetch_add",
            sizes: vec![8],
            iters: 5000,
        },
        Group {
            theirs: Theirs::OfiBaseline("bandwidth"),
            ops: "put_nb",
            sizes: vec![64 << 10, 1 << 20],
            iters: 5000,
        },
        // Where fi_pingpong applies: its message ping-pong against our put ping-pong, and
        // against our messages.
        Group {
            theirs: Theirs::FiPingpong(20_000, "put_pingpong"),
            ops: "put_pingpong",
            sizes: vec![8],
            iters: 20_000,
        },
        Group {
            theirs: Theirs::FiPingpong(20_000, "msg_latency"),
            ops: "msg_latency",
            sizes: vec![8],
            iters: 20_000,
        },
    ]
}

/// ucx_perftest's tests and ours, with the same number of operations per run (the first tens
/// of ms of a process run slower here, so a shorter run would measure more of them).
pub fn ucx_groups(tls: &str) -> Vec<Group> {
    let tcp = tls.contains("tcp");
    let g = |test, size, ops, iters| Group {
        theirs: Theirs::Perftest(test, size, iters, None),
        ops,
        sizes: vec![size],
        iters,
    };
    vec![
        g("ucp_put_lat", 8, "put_pingpong", 100_000),
        // ucp_get over tcp takes ~1 ms per op (a perftest problem): keep it short.
        g("ucp_get", 8, "get", if tcp { 2000 } else { 100_000 }),
        g("ucp_fadd", 8, "fetch_add", 100_000),
        g("ucp_cswap", 8, "compare_swap", 100_000),
        g("ucp_put_bw", 64 << 10, "put_bw", 20_000),
        g("ucp_put_bw", 1 << 20, "put_bw", 2000),
        // Our mailbox against UCX's own messages: tag matching latency, active-message rate.
        g("tag_lat", 8, "msg_latency", if tcp { 20_000 } else { 100_000 }),
        g("ucp_am_bw", 8, "msg_rate", if tcp { 20_000 } else { 100_000 }),
    ]
}

pub fn shmem_groups() -> Vec<Group> {
    vec![
        Group { theirs: Theirs::CacheLine, ops: "put_pingpong", sizes: vec![8], iters: 20_000 },
        Group {
            theirs: Theirs::Memcpy,
            ops: "put_bw",
            sizes: vec![64 << 10, 1 << 20],
            iters: 20_000,
        },
        // Messages over shared memory: UCX's on its posix transport.
        Group {
            theirs: Theirs::Perftest("tag_lat", 8, 100_000, Some("posix")),
            ops: "msg_latency",
            sizes: vec![8],
            iters: 100_000,
        },
        Group {
            theirs: Theirs::Perftest("ucp_am_bw", 8, 100_000, Some("posix")),
            ops: "msg_rate",
            sizes: vec![8],
            iters: 100_000,
        },
    ]
}

/// The host's floor now: half a cache-line round trip between CPUs 0 and 1, in ns (NaN on a
/// machine with one CPU). In a thread of its own, so this process keeps its affinity.
pub fn probe() -> Result<f64, String> {
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        return Ok(f64::NAN);
    }
    let v = std::thread::spawn(|| cacheline::round_trips(Some([0, 1]), 2000, 10, 2000))
        .join()
        .map_err(|_| "the probe panicked".to_string())??;
    Ok(stats::summarize(v).0 / 2.0)
}

fn scratch(name: &str) -> PathBuf {
    static N: AtomicU16 = AtomicU16::new(0);
    std::env::temp_dir().join(format!(
        "lamellar-compare-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

fn sibling(name: &str) -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find own executable: {e}"))?;
    Ok(exe.with_file_name(name))
}

/// A job of two PEs pinned to CPUs 0 and 1 (or one on each host, under hydra); its PEs'
/// stdout goes to the returned text.
fn job(
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(&str, String)>,
    hosts: Option<&Hosts>,
) -> Result<String, String> {
    if !program.exists() {
        return Err(format!("{} not found", program.display()));
    }
    if let Some(h) = hosts {
        let hydra = "mpiexec.hydra";
        // coreutils' timeout bounds the job, as it bounds each client run below.
        let out = Command::new("timeout")
            .args([CLIENT_LIMIT, hydra])
            .args([
                "-launcher",
                "ssh",
                "-launcher-exec",
                &h.exec,
                "-hosts",
                &format!("{},{}", h.server, h.client),
                "-ppn",
                "1",
                "-n",
                "2",
            ])
            .arg(&program)
            .args(&args)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .output()
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    "timeout not found: install coreutils".to_string()
                } else {
                    format!("cannot start {hydra}: {e}")
                }
            })?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        return if out.status.success() {
            Ok(text)
        } else if out.status.code() == Some(124) {
            Err(format!("{} under {hydra}: no result within {CLIENT_LIMIT} s", program.display()))
        } else if out.status.code() == Some(127) {
            Err(format!("{hydra} not found: install mpich"))
        } else {
            Err(format!(
                "{} under {hydra}: {}: {}",
                program.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        };
    }
    let out = scratch("out");
    let mut spec = JobSpec::new(2, &program);
    spec.args = args.into_iter().map(Into::into).collect();
    spec.env = env.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
    spec.bind_cores = true;
    spec.stdout_to = Some(out.clone());
    let outcome = run_job(&spec).map_err(|e| format!("cannot launch {}: {e}", program.display()));
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    let _ = std::fs::remove_file(&out);
    match outcome? {
        o if o.code == 0 => Ok(text),
        o => Err(format!(
            "{}: {}",
            program.display(),
            o.failure.unwrap_or_else(|| format!("exit {}", o.code))
        )),
    }
}

/// The value a row is judged by: ns for latency, MB/s for bandwidth.
fn value_of(r: &Value) -> Option<((String, usize), f64)> {
    let op = r["op"].as_str()?.to_string();
    let field = if crate::report::kind_of(&op) == "latency" { "median_ns" } else { "mb_per_s" };
    Some(((op, r["bytes"].as_u64()? as usize), r[field].as_f64()?))
}

impl Group {
    /// The same ops, with another lamellar-bench build as the other side.
    pub fn against(mut self, build: &std::path::Path, env: &[(String, String)]) -> Group {
        self.theirs = Theirs::Build(build.to_path_buf(), env.to_vec());
        self
    }

    /// What the other side is, for the rows.
    pub fn baseline(&self) -> String {
        match &self.theirs {
            Theirs::OfiBaseline(_) => "ofi-baseline".into(),
            Theirs::Perftest(..) => "ucx_perftest".into(),
            Theirs::FiPingpong(..) => "fi_pingpong".into(),
            Theirs::CacheLine | Theirs::Memcpy => "machine".into(),
            Theirs::Build(exe, _) => exe.display().to_string(),
        }
    }

    pub fn run(
        &self,
        side: Side,
        backend: &str,
        provider: &str,
        hosts: Option<&Hosts>,
    ) -> Result<Values, String> {
        match (side, &self.theirs) {
            (Side::Ours, _) => self.bench(
                &std::env::current_exe().map_err(|e| e.to_string())?,
                &[],
                backend,
                provider,
                hosts,
            ),
            (Side::Theirs, Theirs::Build(exe, env)) => {
                self.bench(exe, env, backend, provider, hosts)
            }
            (Side::Theirs, Theirs::OfiBaseline(group)) => ofi_baseline(group, provider, hosts),
            (Side::Theirs, Theirs::Perftest(test, size, iters, tls)) => {
                perftest(test, *size, *iters, tls.unwrap_or(provider), self.ops, hosts)
            }
            (Side::Theirs, Theirs::FiPingpong(iters, op)) => {
                fi_pingpong(provider, *iters, op, hosts)
            }
            (Side::Theirs, Theirs::CacheLine | Theirs::Memcpy) if hosts.is_some() => {
                Err("the machine's own limits are not measured across hosts".into())
            }
            (Side::Theirs, Theirs::CacheLine) => {
                Ok(vec![(("put_pingpong".to_string(), 8), probe()?)])
            }
            (Side::Theirs, Theirs::Memcpy) => memcpy(&self.sizes, self.iters),
        }
    }

    /// A lamellar-bench build on this group's ops, as a job of two PEs.
    fn bench(
        &self,
        exe: &std::path::Path,
        env: &[(String, String)],
        backend: &str,
        provider: &str,
        hosts: Option<&Hosts>,
    ) -> Result<Values, String> {
        let json = scratch("json");
        let sizes: Vec<String> = self.sizes.iter().map(usize::to_string).collect();
        let mut args: Vec<String> = [
            "--backend",
            backend,
            "--ops",
            self.ops,
            "--sizes",
            &sizes.join(","),
            "--iters",
            &self.iters.to_string(),
            "--window",
            &WINDOW.to_string(),
        ]
        .map(String::from)
        .to_vec();
        match backend {
            "rofi" => args.extend(["--provider".into(), provider.into()]),
            "ucx" => args.extend(["--tls".into(), provider.into()]),
            _ => {}
        }
        args.extend(["--json".into(), json.display().to_string()]);
        let ran = job(
            exe.to_path_buf(),
            args,
            env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect(),
            hosts,
        );
        let text = std::fs::read_to_string(&json).unwrap_or_default();
        let _ = std::fs::remove_file(&json);
        ran?;
        Ok(text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|r| value_of(&r))
            .collect())
    }
}

fn ofi_baseline(group: &str, provider: &str, hosts: Option<&Hosts>) -> Result<Values, String> {
    let exe = sibling("ofi-baseline")?;
    if !exe.exists() {
        return Err(format!(
            "{} not found: build lamellar-bench with --features rofi",
            exe.display()
        ));
    }
    let env = vec![
        ("ROFI_PROVIDER", provider.to_string()),
        ("OFI_BASELINE_ITERS", "5000".into()),
        ("OFI_BASELINE_WINDOW", WINDOW.to_string()),
        ("OFI_BASELINE_OPS", group.to_string()),
    ];
    let text = job(exe, vec![], env, hosts)?;
    Ok(text
        .lines()
        .filter(|l| l.starts_with('{'))
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|r| value_of(&r))
        .collect())
}

/// A client/server tool of the layer below: the server (`tool server_args`) pinned to CPU 1,
/// then the client (`tool client_args`, with the server's address appended) pinned to CPU 0,
/// retried every 0.1 s (up to 5 s) until `read` finds its result in the client's output; the
/// server is killed after. Across `hosts`: the server on one, the client on the other, each
/// on its host's own CPUs. `package` names where the tool comes from when it is missing.
fn client_server(
    tool: &str,
    package: &str,
    env: &[(&str, &str)],
    server_args: &[String],
    client_args: &[String],
    hosts: Option<&Hosts>,
    read: impl Fn(&str) -> Result<Option<f64>, String>,
) -> Result<f64, String> {
    // taskset starts the tool, so a missing tool would only show as taskset's failure.
    let on_path = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()));
    if !on_path {
        return Err(format!("{tool} not found: install {package}"));
    }
    let missing = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::NotFound {
            "taskset, timeout or the --launcher-exec command not found".to_string()
        } else {
            e.to_string()
        }
    };
    let server_at = hosts.map_or("127.0.0.1".to_string(), |h| h.server.clone());
    let client_args: Vec<String> = client_args.iter().cloned().chain([server_at]).collect();
    let mut server = match hosts {
        Some(h) => h.command(&h.server, env, tool, server_args),
        None => {
            let mut c = Command::new("taskset");
            c.args(["-c", "1", tool]).args(server_args).envs(env.iter().copied());
            c
        }
    }
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .map_err(missing)?;
    // The client waits on the server: coreutils' timeout bounds each try.
    let client = || match hosts {
        Some(h) => {
            let mut c = Command::new("timeout");
            let inner = h.command(&h.client, env, tool, &client_args);
            c.arg(CLIENT_LIMIT).arg(inner.get_program()).args(inner.get_args());
            c.stdin(Stdio::null()).output()
        }
        None => Command::new("timeout")
            .args([CLIENT_LIMIT, "taskset", "-c", "0", tool])
            .args(&client_args)
            .envs(env.iter().copied())
            .output(),
    };
    let mut last = String::new();
    let result = (|| {
        for _ in 0..50 {
            std::thread::sleep(std::time::Duration::from_millis(100));
            let out = client().map_err(missing)?;
            if out.status.code() == Some(124) {
                return Err(format!(
                    "{tool} {}: no result within {CLIENT_LIMIT} s",
                    client_args.join(" ")
                ));
            }
            let stdout = String::from_utf8_lossy(&out.stdout);
            if let Some(v) = read(&stdout)? {
                return Ok(v);
            }
            last = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
        }
        Err(format!("{tool} {}: no result after 50 tries: {}", client_args.join(" "), last.trim()))
    })();
    let _ = server.kill();
    let _ = server.wait();
    result
}

/// Seconds one client run of a tool, or one job across hosts, may take (the longest, ucp_get
/// over tcp, takes ~3).
const CLIENT_LIMIT: &str = "300";

/// A port of its own for each server started (tools keep a closed port busy for a while).
fn fresh_port(base: u16) -> String {
    static PORT: AtomicU16 = AtomicU16::new(0);
    (base + (std::process::id() % 10000) as u16)
        .wrapping_add(PORT.fetch_add(1, Ordering::Relaxed) % 1000)
        .to_string()
}

/// ucx_perftest, as our PEs 1 and 0. Latency is its overall latency (a mean over operations,
/// as ours is a mean per batch); bandwidth its overall MiB/s, turned into MB/s.
fn perftest(
    test: &str,
    size: usize,
    iters: usize,
    tls: &str,
    op: &str,
    hosts: Option<&Hosts>,
) -> Result<Values, String> {
    let port = fresh_port(20000);
    let mut client: Vec<String> =
        ["-p", &port, "-t", test, "-s", &size.to_string(), "-n", &iters.to_string()]
            .map(String::from)
            .to_vec();
    if test == "ucp_put_bw" {
        client.extend(["-O".into(), WINDOW.to_string()]);
    }
    let latency = crate::report::kind_of(op) == "latency";
    let read = |stdout: &str| -> Result<Option<f64>, String> {
        let Some(f) = stdout
            .lines()
            .find(|l| l.starts_with("Final:"))
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
        else {
            return Ok(None);
        };
        let num = |i: usize| {
            f.get(i)
                .and_then(|x| x.parse::<f64>().ok())
                .ok_or_else(|| format!("ucx_perftest: unreadable line {f:?}"))
        };
        Ok(Some(if latency { num(4)? * 1e3 } else { num(6)? * 1.048576 }))
    };
    let v = client_server(
        "ucx_perftest",
        "ucx-utils",
        &[("UCX_TLS", tls)],
        &["-p".into(), port.clone()],
        &client,
        hosts,
        read,
    )?;
    Ok(vec![((op.to_string(), size), v)])
}

/// fi_pingpong, as our PEs 1 and 0: its "usec/xfer" for 8 B is half a round trip, as our
/// put_pingpong reports.
fn fi_pingpong(
    provider: &str,
    iters: usize,
    op: &str,
    hosts: Option<&Hosts>,
) -> Result<Values, String> {
    let port = fresh_port(40000);
    let common =
        ["-p", provider, "-e", "rdm", "-I", &iters.to_string(), "-S", "8"].map(String::from);
    let server: Vec<String> = [vec!["-B".to_string(), port.clone()], common.to_vec()].concat();
    let client: Vec<String> = [vec!["-P".to_string(), port.clone()], common.to_vec()].concat();
    let us = client_server("fi_pingpong", "libfabric-bin", &[], &server, &client, hosts, |out| {
        Ok(fi_pingpong_8b_us(out))
    })?;
    Ok(vec![((op.to_string(), 8), us * 1e3)])
}

/// fi_pingpong's usec/xfer for 8 B: a header ("bytes #sent #ack total time MB/sec usec/xfer
/// Mxfers/sec"), then a row per size; an xfer is one direction, so this is half a round trip.
fn fi_pingpong_8b_us(stdout: &str) -> Option<f64> {
    let rows: Vec<Vec<&str>> = stdout.lines().map(|l| l.split_whitespace().collect()).collect();
    let col = rows.iter().find_map(|f| f.iter().position(|w| *w == "usec/xfer"))?;
    rows.iter().find(|f| f.first() == Some(&"8"))?.get(col)?.parse().ok()
}

/// The machine's side of put_bw for shmem: memcpy in a thread of this process, with as many
/// copies as our put_bw makes (at most 256 MiB moved).
fn memcpy(sizes: &[usize], iters: usize) -> Result<Values, String> {
    let mut v = Vec::new();
    for &s in sizes {
        let n = (256usize << 20).checked_div(s).unwrap_or(iters).clamp(20, iters);
        let (median_ns, _) = std::thread::spawn(move || crate::limits::memcpy(s, n))
            .join()
            .map_err(|_| "memcpy panicked".to_string())?;
        v.push((("put_bw".to_string(), s), s as f64 * 1e3 / median_ns));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fi_pingpong_output_is_read_by_its_header() {
        let out = "bytes   #sent   #ack     total       time     MB/sec    usec/xfer   Mxfers/sec\n\
                   8       20k     =20k     312k        0.31s      1.03       7.75       0.13\n";
        assert_eq!(fi_pingpong_8b_us(out), Some(7.75));
        assert_eq!(fi_pingpong_8b_us("bytes iters\n8 20k\n"), None);
        assert_eq!(fi_pingpong_8b_us(""), None);
    }
}
