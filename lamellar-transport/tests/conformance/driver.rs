//! The driver side of the conformance suite: which runs, how each is launched and checked.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A backend configuration: name and the environment that selects it.
struct Config {
    name: &'static str,
    env: Vec<(&'static str, &'static str)>,
    /// Reaches PEs on other hosts (else init must fail there, naming the hosts).
    spans_hosts: bool,
    /// The path each pair must take (`LT_EXPECT_PATHS`, checked by every PE after init).
    paths: &'static str,
}

fn configs() -> Vec<Config> {
    let mut v = Vec::new();
    for b in lamellar_transport::compiled_backends() {
        match b {
            // rofi-shm and rofi-tcp test the providers alone (ROFI_LOCAL=0); rofi-local is
            // ROFI's default, node-local PEs through mappings and the rest over tcp.
            "rofi" => {
                let rofi = |provider, local| {
                    vec![
                        ("LAMELLAR_TRANSPORT", "rofi"),
                        ("ROFI_PROVIDER", provider),
                        ("ROFI_LOCAL", local),
                    ]
                };
                v.push(Config {
                    name: "rofi-shm",
                    env: rofi("shm", "0"),
                    spans_hosts: false,
                    paths: "network",
                });
                v.push(Config {
                    name: "rofi-tcp",
                    env: rofi("tcp;ofi_rxm", "0"),
                    spans_hosts: true,
                    paths: "network",
                });
                v.push(Config {
                    name: "rofi-local",
                    env: rofi("tcp;ofi_rxm", "1"),
                    spans_hosts: true,
                    paths: "by-node",
                });
            }
            "ucx" => {
                let ucx = |tls| vec![("LAMELLAR_TRANSPORT", "ucx"), ("UCX_TLS", tls)];
                v.push(Config {
                    name: "ucx-shm",
                    env: ucx("posix,sysv,cma,self"),
                    spans_hosts: false,
                    paths: "shared",
                });
                v.push(Config {
                    name: "ucx-tcp",
                    env: ucx("tcp,self"),
                    spans_hosts: true,
                    paths: "network-but-self",
                });
            }
            other => v.push(Config {
                name: other,
                env: vec![("LAMELLAR_TRANSPORT", other)],
                spans_hosts: false,
                paths: "shared",
            }),
        }
    }
    v
}

fn dev_shm() -> BTreeSet<String> {
    std::fs::read_dir("/dev/shm")
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default()
}

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {cmd} >/dev/null"))
        .status()
        .is_ok_and(|s| s.success())
}

/// Judges a finished run from its output and duration.
type Check = Box<dyn Fn(&Output, Duration) -> Result<(), String>>;

struct Run {
    name: String,
    cmd: Command,
    /// What a correct run looks like.
    check: Check,
}

fn expect_success(out: &Output, _: Duration) -> Result<(), String> {
    if out.status.success() { Ok(()) } else { Err(format!("job failed: {}", out.status)) }
}

fn pe_command(launcher: &[&str], exe: &Path, cfg: &Config, pes: usize, mode: &str) -> Command {
    let mut cmd = Command::new(launcher.first().copied().unwrap_or(exe.to_str().unwrap()));
    if !launcher.is_empty() {
        cmd.args(&launcher[1..]).arg(exe);
    }
    cmd.env("LT_CONFORMANCE_PE", "1")
        .env("LT_EXPECT_PES", pes.to_string())
        .env("LT_EXPECT_PATHS", cfg.paths)
        .env("LT_CONFORMANCE_MODE", mode)
        .env_remove("PMI_FD")
        .env_remove("PMI_PORT");
    if std::env::var_os("LAMELLAR_TIMEOUT").is_none() {
        cmd.env("LAMELLAR_TIMEOUT", "30");
    }
    for (k, v) in &cfg.env {
        cmd.env(k, v);
    }
    cmd
}

/// The `lamellar-run` binary of this build (its own crate): next to this test's `deps/`,
/// built on demand when only this crate's tests were built.
fn lamellar_run() -> String {
    let exe = std::env::current_exe().expect("own path");
    let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>/deps/<test>");
    let bin = profile_dir.join("lamellar-run");
    if !bin.exists() {
        let mut cargo = Command::new(env!("CARGO"));
        cargo.args(["build", "-q", "-p", "lamellar-run"]);
        if profile_dir.ends_with("release") {
            cargo.arg("--release");
        }
        assert!(cargo.status().is_ok_and(|s| s.success()), "cannot build lamellar-run");
    }
    bin.to_string_lossy().into_owned()
}

/// The real launchers on this machine, each as a command line ending before its PE count:
/// MPICH's hydra, Open MPI's mpirun, and Slurm's srun with PMI-2 and PMIx when a Slurm is
/// up (`SLURM_CONF`, as scripts/test-all.sh sets it). Those missing are named, not hidden.
fn launchers() -> Vec<(&'static str, Vec<&'static str>)> {
    static SAID: std::sync::Once = std::sync::Once::new();
    let mut v = Vec::new();
    let mut skipped = Vec::new();
    let mut skip = |what: &str, why: &str| skipped.push(format!("skip: {what}: {why}"));
    if have("mpiexec.hydra") {
        v.push(("hydra", vec!["mpiexec.hydra", "-n"]));
    } else {
        skip("hydra", "mpiexec.hydra not installed (Debian: mpich)");
    }
    if have("mpirun.openmpi") {
        v.push(("openmpi", vec!["mpirun.openmpi", "--oversubscribe", "--allow-run-as-root", "-n"]));
    } else {
        skip("Open MPI mpirun", "mpirun.openmpi not installed (Debian: openmpi-bin)");
    }
    if std::env::var_os("SLURM_CONF").is_some() && have("srun") {
        v.push(("srun-pmi2", vec!["srun", "--mpi=pmi2", "--overcommit", "-n"]));
        v.push(("srun-pmix", vec!["srun", "--mpi=pmix", "--overcommit", "-n"]));
    } else {
        skip("srun", "no Slurm running (scripts/test-all.sh starts one on localhost as root)");
    }
    SAID.call_once(|| skipped.iter().for_each(|s| println!("{s}")));
    v
}

/// `LT_EXPECT_YIELD` for two PEs on a test-bed host: 1 when the host has fewer than two
/// CPUs of its own (its `lt-hK.cpus`, as taskset takes them).
fn host_yields(host: &str) -> &'static str {
    let dir = std::env::var("LT_NETNS_DIR").expect("across_hosts checked it");
    let list = std::fs::read_to_string(Path::new(&dir).join(format!("{host}.cpus")))
        .expect("netns-hosts.sh writes the CPUs of each host");
    let count: usize = list
        .trim()
        .split(',')
        .map(|r| {
            r.split_once('-')
                .map_or(1, |(a, b)| b.parse::<usize>().unwrap() - a.parse::<usize>().unwrap() + 1)
        })
        .sum();
    if count < 2 { "1" } else { "0" }
}

/// hydra across two hosts made of namespaces (scripts/netns-hosts.sh, named by
/// `LT_NETNS_DIR`), two PEs on each.
fn across_hosts() -> Option<Vec<&'static str>> {
    let dir =
        std::env::var("LT_NETNS_DIR").ok().filter(|d| Path::new(d).join("lt-h2.pid").exists());
    if dir.is_none() || !have("mpiexec.hydra") {
        static SAID: std::sync::Once = std::sync::Once::new();
        SAID.call_once(|| {
            println!(
                "skip: jobs across hosts: no test hosts up (scripts/test-all.sh makes them as root)"
            )
        });
        return None;
    }
    let exec: &'static str =
        Box::leak(format!("{}/../scripts/netns-exec", env!("CARGO_MANIFEST_DIR")).into_boxed_str());
    Some(vec![
        "mpiexec.hydra",
        "-launcher",
        "ssh",
        "-launcher-exec",
        exec,
        "-hosts",
        "lt-h1,lt-h2",
        "-ppn",
        "2",
        "-n",
        "4",
    ])
}

fn runs() -> Vec<Run> {
    let exe = std::env::current_exe().expect("own path");
    let run = &lamellar_run();
    let run = run.as_str();
    let mut v = Vec::new();
    for cfg in configs() {
        v.push(Run {
            name: format!("{}/singleton", cfg.name),
            cmd: pe_command(&[], &exe, &cfg, 1, ""),
            check: Box::new(expect_success),
        });
        for p in 1..=4 {
            let np = p.to_string();
            let l = [run, "-n", np.as_str(), "--timeout", "300", "--"];
            v.push(Run {
                name: format!("{}/lamellar-run/P={p}", cfg.name),
                cmd: pe_command(&l, &exe, &cfg, p, ""),
                check: Box::new(expect_success),
            });
        }
        for (name, launcher) in launchers() {
            for p in 2..=4 {
                let np = p.to_string();
                let l: Vec<&str> = launcher.iter().copied().chain([np.as_str()]).collect();
                v.push(Run {
                    name: format!("{}/{name}/P={p}", cfg.name),
                    cmd: pe_command(&l, &exe, &cfg, p, ""),
                    check: Box::new(expect_success),
                });
            }
        }
        // UCX over shared memory alone has no path between hosts, and no host list to name.
        if let Some(hydra) = across_hosts().filter(|_| cfg.name != "ucx-shm") {
            let mut c =
                pe_command(&hydra, &exe, &cfg, 4, if cfg.spans_hosts { "" } else { "init_fails" });
            c.env("LT_EXPECT_NODES", "2").env("ROFI_DOMAIN", "lt0").env("UCX_NET_DEVICES", "lt0");
            if cfg.spans_hosts {
                c.env("LT_EXPECT_YIELD", host_yields("lt-h1"));
            }
            v.push(Run {
                name: format!("{}/hydra-2-hosts/P=4", cfg.name),
                cmd: c,
                check: Box::new(expect_success),
            });
            // UCX given shared memory and tcp in one list: node-local pairs over the former,
            // the rest over tcp, in one job; the atomics cases then mix both paths on one
            // word of PE 0 (its node-local peer's and the remote PEs'), totals exact.
            if cfg.name == "ucx-tcp" {
                let mut c = pe_command(&hydra, &exe, &cfg, 4, "");
                c.env("LT_EXPECT_NODES", "2")
                    .env("UCX_NET_DEVICES", "lt0")
                    .env("UCX_TLS", "posix,sysv,cma,self,tcp");
                c.env("LT_EXPECT_PATHS", "by-node");
                v.push(Run {
                    name: "ucx-shm+tcp/hydra-2-hosts/P=4".into(),
                    cmd: c,
                    check: Box::new(expect_success),
                });
            }
        }
        // Bad settings and launchers we cannot serve fail init, naming the culprit.
        // (name, environment, what the error must say)
        type Bad<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);
        let mut bad: Vec<Bad> = vec![
            (
                "launcher-without-PMI-connection",
                vec![("PMI_RANK", "5"), ("PMI_SIZE", "2")],
                "Bootstrap|PMI_RANK=5",
            ),
            (
                "srun-step-without-PMI",
                vec![("SLURM_STEP_NUM_TASKS", "2"), ("SLURM_STEP_ID", "0")],
                "Bootstrap|--mpi=pmi2",
            ),
            (
                "openmpi-without-PMIx-server",
                vec![("OMPI_COMM_WORLD_SIZE", "2")],
                "Bootstrap|OMPI_COMM_WORLD_SIZE",
            ),
        ];
        for t in ["abc", "-1", "0"] {
            bad.push((
                "bad-LAMELLAR_TIMEOUT",
                vec![("LAMELLAR_TIMEOUT", t)],
                "InvalidArgument|LAMELLAR_TIMEOUT",
            ));
        }
        bad.push((
            "bad-LAMELLAR_YIELD",
            vec![("LAMELLAR_YIELD", "sometimes")],
            "InvalidArgument|LAMELLAR_YIELD",
        ));
        bad.push((
            "empty-LAMELLAR_TRANSPORT",
            vec![("LAMELLAR_TRANSPORT", " ")],
            "InvalidArgument|LAMELLAR_TRANSPORT",
        ));
        if cfg.name.starts_with("rofi") {
            bad.push((
                "empty-ROFI_PROVIDER",
                vec![("ROFI_PROVIDER", "")],
                "InvalidArgument|ROFI_PROVIDER",
            ));
            bad.push((
                "bad-ROFI_LOCAL",
                vec![("ROFI_LOCAL", "sometimes")],
                "InvalidArgument|ROFI_LOCAL='sometimes'",
            ));
        }
        if cfg.name.starts_with("ucx") {
            bad.push((
                "UCX_TLS-UCX-rejects",
                vec![("UCX_TLS", "no_such_tl")],
                "BackendUnavailable|UCX_TLS",
            ));
            bad.push((
                "bad-LAMELLAR_UCX_ERR_MODE",
                vec![("LAMELLAR_UCX_ERR_MODE", "maybe")],
                "InvalidArgument|LAMELLAR_UCX_ERR_MODE",
            ));
        }
        for (name, env, want) in bad {
            let mut c = pe_command(&[], &exe, &cfg, 1, "init_error");
            c.envs(env).env("LT_EXPECT_ERROR", want);
            v.push(Run {
                name: format!("{}/{name}", cfg.name),
                cmd: c,
                check: Box::new(expect_success),
            });
        }
        let l = [run, "-n", "3", "--timeout", "60", "--"];
        v.push(Run {
            name: format!("{}/panicking-PE-fails-the-job", cfg.name),
            cmd: pe_command(&l, &exe, &cfg, 3, "panic"),
            check: Box::new(|out, took| {
                let err = String::from_utf8_lossy(&out.stderr);
                if out.status.success() {
                    return Err("job with a panicking PE exited 0".into());
                }
                if !err.contains("PE 1 ") {
                    return Err(format!("launcher did not name PE 1: {err}"));
                }
                if took > Duration::from_secs(30) {
                    return Err(format!("took {took:?} to bring the job down"));
                }
                Ok(())
            }),
        });
        let l = [run, "-n", "3", "--timeout", "60", "--"];
        let c = pe_command(&l, &exe, &cfg, 3, "yield");
        v.push(Run {
            name: format!("{}/yields-only-when-oversubscribed", cfg.name),
            cmd: c,
            check: Box::new(expect_success),
        });
        let l = [run, "-n", "2", "--timeout", "60", "--"];
        // On ucx twenty jobs in a row: UCX 1.13 aborted a survivor whose peer left while an
        // endpoint's wireup was still under way (rarely; init now ends every wireup first).
        let times = if cfg.name.starts_with("ucx") { "20" } else { "1" };
        let repeat = ["sh", "-c", "for i in $(seq $0); do \"$@\" || exit $?; done", times];
        let mut c = pe_command(&[&repeat[..], &l[..]].concat(), &exe, &cfg, 2, "peer_exit");
        c.env("LAMELLAR_TIMEOUT", "5");
        v.push(Run {
            name: format!("{}/departed-peer-is-an-error", cfg.name),
            cmd: c,
            check: Box::new(expect_success),
        });
        for p in [1, 2] {
            let np = p.to_string();
            let lt = [run, "-n", np.as_str(), "--timeout", "60", "--"];
            let mut c = pe_command(&lt, &exe, &cfg, p, "threads");
            c.env("LAMELLAR_TIMEOUT", "2");
            v.push(Run {
                name: format!("{}/threads-quiet-within-2s/P={p}", cfg.name),
                cmd: c,
                check: Box::new(expect_success),
            });
        }
        let mut c = pe_command(&l, &exe, &cfg, 2, "peer_leaves_mid_ops");
        c.env("LAMELLAR_TIMEOUT", "5");
        v.push(Run {
            name: format!("{}/peer-leaves-with-ops-in-flight", cfg.name),
            cmd: c,
            check: Box::new(expect_success),
        });
        let mut c = pe_command(&l, &exe, &cfg, 2, "mailbox_stalled_receiver");
        c.env("LAMELLAR_TIMEOUT", "1");
        v.push(Run {
            name: format!("{}/mailbox-send-to-a-stalled-receiver", cfg.name),
            cmd: c,
            check: Box::new(expect_success),
        });
        let c = pe_command(&l, &exe, &cfg, 2, "async_slow_peer");
        v.push(Run {
            name: format!("{}/async-wait-on-a-slow-peer-does-not-spin", cfg.name),
            cmd: c,
            check: Box::new(expect_success),
        });
        let c = pe_command(&l, &exe, &cfg, 2, "drop_while_peer_puts");
        v.push(Run {
            name: format!("{}/dropped-allocation-while-peer-puts", cfg.name),
            cmd: c,
            check: Box::new(expect_success),
        });
        let mut c = pe_command(&l, &exe, &cfg, 2, "timeout");
        c.env("LAMELLAR_TIMEOUT", "1");
        v.push(Run {
            name: format!("{}/silent-peer-is-Timeout", cfg.name),
            cmd: c,
            check: Box::new(expect_success),
        });
        // LT_SOAK_SECS (default 3) lengthens the soak: see docs/testing.md.
        let secs = std::env::var("LT_SOAK_SECS").unwrap_or_else(|_| "3".into());
        let limit = (secs.parse::<u64>().expect("LT_SOAK_SECS in seconds") + 120).to_string();
        let l = [run, "-n", "4", "--timeout", limit.as_str(), "--"];
        let mut c = pe_command(&l, &exe, &cfg, 4, "soak");
        c.env("LT_SOAK_SECS", &secs);
        v.push(Run {
            name: format!("{}/soak-resources-flat/P=4", cfg.name),
            cmd: c,
            // Each PE's numbers go to the log when it passes too: growth shows before it fails.
            check: Box::new(|out, took| {
                let said = String::from_utf8_lossy(&out.stdout);
                said.lines().filter(|l| l.starts_with("soak: PE")).for_each(|l| println!("  {l}"));
                expect_success(out, took)
            }),
        });
    }
    v
}

pub fn main() -> i32 {
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let (mut passed, mut failed) = (0, 0);
    for mut r in runs() {
        if !filters.is_empty() && !filters.iter().any(|f| r.name.contains(f.as_str())) {
            continue;
        }
        let before = dev_shm();
        let start = Instant::now();
        let out = r.cmd.output().expect("spawn a conformance run");
        let took = start.elapsed();
        let mut verdict = (r.check)(&out, took);
        let leaked: Vec<String> = dev_shm().difference(&before).cloned().collect();
        if verdict.is_ok() && !leaked.is_empty() {
            verdict = Err(format!("left in /dev/shm: {leaked:?}"));
        }
        match verdict {
            Ok(()) => {
                passed += 1;
                println!("test {} ... ok ({:.1} s)", r.name, took.as_secs_f64());
            }
            Err(why) => {
                failed += 1;
                println!("test {} ... FAILED: {why}", r.name);
                println!(
                    "--- stdout\n{}--- stderr\n{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
    println!("\n{passed} passed, {failed} failed");
    if failed == 0 { 0 } else { 1 }
}
