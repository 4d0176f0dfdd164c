//! lamellar-bench end to end: it launches its own PEs, runs as a PE under lamellar-run and
//! mpiexec, and writes the JSON-lines contract.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const BENCH: &str = env!("CARGO_BIN_EXE_lamellar-bench");
const FIELDS: [&str; 13] = [
    "backend",
    "provider",
    "op",
    "kind",
    "native_library",
    "bytes",
    "pes",
    "iters",
    "median_ns",
    "p99_ns",
    "mb_per_s",
    "mops",
    "env",
];

fn json_path(tag: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("lamellar-bench-{tag}-{}.json", std::process::id()))
}

/// Runs `cmd`, then checks every JSON line and returns them.
fn run_and_read(mut cmd: Command, json: &std::path::Path) -> Vec<String> {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "bench failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(json).unwrap();
    std::fs::remove_file(json).unwrap();
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    for l in &lines {
        for f in FIELDS {
            assert!(l.contains(&format!("\"{f}\":")), "field {f} missing in {l}");
        }
        assert!(!l.contains("\"median_ns\":null"), "no measurement in {l}");
    }
    lines
}

fn has(lines: &[String], op: &str, bytes: usize, pes: usize) -> bool {
    lines.iter().any(|l| {
        l.contains(&format!("\"op\":\"{op}\""))
            && l.contains(&format!("\"bytes\":{bytes},"))
            && l.contains(&format!("\"pes\":{pes},"))
    })
}

#[test]
fn launches_its_own_pes_and_writes_every_op() {
    let json = json_path("self");
    let mut cmd = Command::new(BENCH);
    cmd.args(["--pes", "2", "--sizes", "8,4K", "--iters", "200", "--json"]).arg(&json);
    let lines = run_and_read(cmd, &json);
    for op in [
        "put",
        "put_pingpong",
        "put_signal_pingpong",
        "get",
        "put_nb",
        "put_bw",
        "get_nb",
        "msg_latency",
        "msg_rate",
    ] {
        assert!(has(&lines, op, 8, 2) && has(&lines, op, 4096, 2), "{op} rows missing");
    }
    assert!(has(&lines, "fetch_add", 8, 2) && has(&lines, "compare_swap", 8, 2));
    assert!(has(&lines, "barrier", 0, 2));
    let rate = lines.iter().find(|l| l.contains("\"op\":\"msg_rate\"")).unwrap();
    assert!(rate.contains("\"kind\":\"rate\"") && rate.contains("\"mups\":"), "{rate}");
    assert!(
        has(&lines, "memcpy", 4096, 1) && has(&lines, "cacheline_rtt", 64, 1),
        "limits rows missing"
    );
    assert!(has(&lines, "random_xadd", 8, 2), "the contended-atomic limit is missing");
    assert!(lines[0].contains("\"backend\":\"shmem\""));
    assert!(lines[0].contains("\"cores\":") && lines[0].contains("\"git_commit\":"));
}

#[test]
fn runs_as_a_pe_under_lamellar_run() {
    let json = json_path("lrun");
    let run = std::path::Path::new(BENCH).with_file_name("lamellar-run");
    if !run.exists() {
        // Built by `cargo test --workspace` (the lamellar-run crate's binary).
        Command::new(env!("CARGO"))
            .args(["build", "-p", "lamellar-run", "--bin", "lamellar-run"])
            .status()
            .unwrap();
    }
    let mut cmd = Command::new(run);
    cmd.args([
        "-n",
        "3",
        "--",
        BENCH,
        "--ops",
        "put,barrier",
        "--sizes",
        "64",
        "--iters",
        "100",
        "--json",
    ])
    .arg(&json);
    let lines = run_and_read(cmd, &json);
    assert!(has(&lines, "put", 64, 3) && has(&lines, "barrier", 0, 3), "{lines:?}");
}

/// Under a real launcher lamellar-bench is one PE of that launcher's job, whatever `--pes`
/// says (it must not start a job of its own per process).
fn runs_as_a_pe_under(launcher: &[&str]) {
    if !Command::new("sh")
        .args(["-c", &format!("command -v {}", launcher[0])])
        .output()
        .unwrap()
        .status
        .success()
    {
        eprintln!("{} not installed: skipped (scripts/test-all.sh installs it)", launcher[0]);
        return;
    }
    let json = json_path(launcher[0]);
    let mut cmd = Command::new(launcher[0]);
    cmd.args(&launcher[1..])
        .args([
            "-n",
            "2",
            BENCH,
            "--pes",
            "2",
            "--ops",
            "get,fetch_add",
            "--sizes",
            "8",
            "--iters",
            "100",
            "--json",
        ])
        .arg(&json);
    let lines = run_and_read(cmd, &json);
    assert!(has(&lines, "get", 8, 2) && has(&lines, "fetch_add", 8, 2), "{lines:?}");
    // One job: one row per op (a job per process would write each row twice).
    assert_eq!(lines.iter().filter(|l| l.contains("\"op\":\"get\"")).count(), 1, "{lines:?}");
}

#[test]
fn runs_as_a_pe_under_hydra() {
    runs_as_a_pe_under(&["mpiexec.hydra"]);
}

#[test]
fn runs_as_a_pe_under_open_mpi() {
    runs_as_a_pe_under(&["mpirun.openmpi", "--oversubscribe", "--allow-run-as-root"]);
}

#[test]
fn bad_arguments_exit_2_with_usage_naming_the_flag() {
    for (args, flag) in [
        (&["--ops", "teleport"][..], "--ops"),
        (&["--ops", ""], "--ops"),
        (&["--pes", "0"], "--pes"),
        (&["--sizes", "lots"], "--sizes"),
        (&["--sizes", "64G"], "--sizes"),
        (&["--timeout", "-1"], "--timeout"),
        (&["--timeout", "nan"], "--timeout"),
        (&["--iters", "0"], "--iters"),
    ] {
        let out = Command::new(BENCH).args(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("--help") && err.contains(flag), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn a_bad_lamellar_timeout_is_a_usage_error_before_any_pe_starts() {
    let out =
        Command::new(BENCH).args(["--pes", "2"]).env("LAMELLAR_TIMEOUT", "abc").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("LAMELLAR_TIMEOUT") && err.contains("abc"), "{err}");
}

/// A peer that stops answering (SIGSTOP a second into the run) ends PE 0's barrier loop
/// with a timeout after LAMELLAR_TIMEOUT, not after the harness's own limit or never.
#[test]
fn lamellar_timeout_bounds_a_wait_on_a_stopped_peer() {
    let run = Path::new(BENCH).with_file_name("lamellar-run");
    if !run.exists() {
        Command::new(env!("CARGO"))
            .args(["build", "-p", "lamellar-run", "--bin", "lamellar-run"])
            .status()
            .unwrap();
    }
    let script = format!(
        "{BENCH} --ops barrier --iters 100000000 & pid=$!; \
         if [ \"$PMI_RANK\" = 1 ]; then sleep 1; kill -STOP $pid; fi; wait $pid"
    );
    let start = Instant::now();
    let out = Command::new(&run)
        .args(["-n", "2", "--timeout", "60", "--", "sh", "-c", &script])
        .env("LAMELLAR_TIMEOUT", "3")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert_ne!(
        out.status.code(),
        Some(124),
        "the launcher's limit ended the job, not the wait timeout: {err}"
    );
    assert!(
        err.to_lowercase().contains("timeout") || err.to_lowercase().contains("timed out"),
        "{err}"
    );
    assert!(start.elapsed() < Duration::from_secs(30), "took {:?}: {err}", start.elapsed());
}

fn rows(json: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(json).unwrap();
    std::fs::remove_file(json).unwrap();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// Every kernel on every compiled backend, in one sweep: validated runs (a failed validation
/// fails the job), a rate per PE and for the job, and a plot of the latency ops beside them.
#[test]
fn kernels_on_every_backend_in_one_sweep() {
    let json = json_path("kernels");
    let plot = json.with_extension("svg");
    let out = Command::new(BENCH)
        .args([
            "--backend",
            "all",
            "--ops",
            "histo,histo_agg,index_gather,index_gather_agg,randperm,get",
            "--sizes",
            "8,64",
        ])
        .args(["--iters", "3000", "--json"])
        .arg(&json)
        .arg("--plot")
        .arg(&plot)
        .env("LAMELLAR_TIMEOUT", "60")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let rows = rows(&json);
    let backends: Vec<&str> = ["shmem", "rofi", "ucx"]
        .into_iter()
        .filter(|b| {
            *b == "shmem"
                || (*b == "rofi" && cfg!(feature = "rofi"))
                || (*b == "ucx" && cfg!(feature = "ucx"))
        })
        .collect();
    for b in &backends {
        for k in ["histo", "histo_agg", "index_gather", "index_gather_agg", "randperm"] {
            let r = rows
                .iter()
                .find(|r| r["backend"] == *b && r["op"] == k)
                .unwrap_or_else(|| panic!("{b} {k} missing:\n{stdout}"));
            assert_eq!(
                (r["kind"].as_str(), r["pes"].as_u64(), r["iters"].as_u64()),
                (Some("rate"), Some(2), Some(3000)),
                "{r}"
            );
            let (mups, total) = (r["mups"].as_f64().unwrap(), r["mups_total"].as_f64().unwrap());
            assert!(mups > 0.0 && (total / mups - 2.0).abs() < 1e-9, "{r}");
        }
    }
    let svg = std::fs::read_to_string(&plot).unwrap();
    std::fs::remove_file(&plot).unwrap();
    for b in &backends {
        assert!(
            svg.contains(&format!("{b} ")) && svg.contains(" get"),
            "no {b} get line in the plot"
        );
    }
}

/// A sweep over providers where one does not exist here: its row says why, the others
/// measure, and the sweep succeeds.
#[cfg(feature = "rofi")]
#[test]
fn a_provider_that_does_not_work_is_a_row_saying_why() {
    let json = json_path("providers");
    let out = Command::new(BENCH)
        .args([
            "--backend",
            "rofi",
            "--provider",
            "no-such-provider",
            "--provider",
            "shm",
            "--ops",
            "put",
            "--sizes",
            "8",
            "--iters",
            "200",
            "--json",
        ])
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("rofi no-such-provider: not measured:"), "{stdout}");
    let rows = rows(&json);
    let bad = rows
        .iter()
        .find(|r| r["provider"] == "no-such-provider")
        .expect("a row for the missing provider");
    assert!(bad["error"].as_str().unwrap().contains("no-such-provider"), "{bad}");
    assert!(rows.iter().any(|r| r["provider"] == "shm"
        && r["op"] == "put"
        && r["median_ns"].as_f64().unwrap() > 0.0));
}

#[test]
fn osu_format_prints_osu_titles_and_columns() {
    let out = Command::new(BENCH)
        .args([
            "--pes",
            "2",
            "--ops",
            "put,put_bw,fetch_add,put_pingpong",
            "--sizes",
            "8,1K",
            "--iters",
            "200",
            "--format",
            "osu",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    for want in [
        "# OSU OpenSHMEM Put Test",
        "# Size          Latency (us)",
        "# OSU OpenSHMEM Put Bandwidth Test",
        "# Size      Bandwidth (MB/s)",
        "shmem_uint64_atomic_fetch_add",
        "# put_pingpong: no OSU counterpart",
    ] {
        assert!(stdout.contains(want), "{want:?} missing:\n{stdout}");
    }
    let row = stdout.lines().find(|l| l.starts_with("1024 ")).expect("a 1 KiB row");
    assert!(row[10..].trim().parse::<f64>().is_ok(), "{row}");
}

/// `compare` against the layer below: one JSON row per op and size with both sides' values
/// per round, the ratio, its interval and the verdict.
fn compare_rows(args: &[&str], path_env: Option<&str>) -> (String, Vec<serde_json::Value>) {
    compare_rows_with(args, path_env.map(|p| ("PATH", p)).as_slice())
}

fn compare_rows_with(args: &[&str], env: &[(&str, &str)]) -> (String, Vec<serde_json::Value>) {
    let json = json_path(&format!("compare-{}", args.join("-").replace([',', ';', '/'], "_")));
    let mut cmd = Command::new(BENCH);
    cmd.arg("compare")
        .args(args)
        .args(["--rounds", "2", "--json"])
        .arg(&json)
        .envs(env.iter().copied());
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)), rows(&json))
}

fn assert_compared(rows: &[serde_json::Value], baseline: &str, want: &[(&str, u64)], log: &str) {
    for (op, bytes) in want {
        let r = rows
            .iter()
            .find(|r| r["op"] == *op && r["bytes"] == *bytes)
            .unwrap_or_else(|| panic!("{op} {bytes} missing:\n{log}"));
        assert_eq!(r["baseline"], baseline, "{r}");
        assert_eq!(
            (
                r["theirs_rounds"].as_array().unwrap().len(),
                r["ours_rounds"].as_array().unwrap().len()
            ),
            (2, 2),
            "{r}"
        );
        let (ratio, lo, hi) = (
            r["ratio"].as_f64().unwrap(),
            r["interval_lo"].as_f64().unwrap(),
            r["interval_hi"].as_f64().unwrap(),
        );
        assert!(ratio > 0.0 && lo <= ratio && ratio <= hi, "{r}");
        assert!(
            r["meets"].is_boolean()
                && ["clear", "not resolved"].contains(&r["resolved"].as_str().unwrap()),
            "{r}"
        );
        let kind = r["kind"].as_str().unwrap();
        assert_eq!(r["bar"].as_f64(), Some(if kind == "latency" { 1.10 } else { 0.90 }), "{r}");
    }
}

#[test]
fn compare_shmem_against_the_machine() {
    let (log, rows) = compare_rows(&["--backend", "shmem"], None);
    assert_compared(
        &rows,
        "machine",
        &[("put_pingpong", 8), ("put_bw", 65536), ("put_bw", 1048576)],
        &log,
    );
    // Messages over shared memory against UCX's on posix.
    if Command::new("ucx_perftest").arg("-h").output().is_ok() {
        assert_compared(&rows, "ucx_perftest", &[("msg_latency", 8), ("msg_rate", 8)], &log);
    }
}

#[cfg(feature = "rofi")]
#[test]
fn compare_rofi_against_ofi_baseline() {
    let (log, rows) = compare_rows(&["--backend", "rofi", "--provider", "shm"], None);
    assert_compared(
        &rows,
        "ofi-baseline",
        &[("put", 8), ("get", 8), ("fetch_add", 8), ("put_nb", 65536), ("put_nb", 1048576)],
        &log,
    );
    assert_compared(&rows, "fi_pingpong", &[("put_pingpong", 8), ("msg_latency", 8)], &log);
}

#[cfg(feature = "ucx")]
#[test]
fn compare_ucx_against_ucx_perftest_and_name_the_package_when_it_is_missing() {
    if Command::new("ucx_perftest").arg("-h").output().is_err() {
        eprintln!(
            "ucx_perftest not installed (ucx-utils): skipped; scripts/test-all.sh installs it"
        );
        return;
    }
    let (log, rows) = compare_rows(&["--backend", "ucx", "--tls", "posix,sysv,cma,self"], None);
    let want = [
        ("put_pingpong", 8),
        ("get", 8),
        ("fetch_add", 8),
        ("compare_swap", 8),
        ("put_bw", 65536),
        ("put_bw", 1048576),
        ("msg_latency", 8),
        ("msg_rate", 8),
    ];
    assert_compared(&rows, "ucx_perftest", &want, &log);
    // Without the tool on PATH: a row saying which package has it, and a failed exit.
    let (log, rows) =
        compare_rows(&["--backend", "ucx", "--tls", "posix,sysv,cma,self"], Some("/nonexistent"));
    let err = rows[0]["error"].as_str().unwrap_or_else(|| panic!("{log}"));
    assert!(err.contains("ucx-utils"), "{err}");
}

#[test]
fn compare_refuses_bad_values() {
    for args in [
        &["--rounds", "1"][..],
        &["--latency-bar", "-1"],
        &["--bandwidth-bar", "nan"],
        &["--backend", "mpi"],
        &["--against-env", "X=1"],
        &["--against", "/x", "--against-env", "novalue"],
        &["--hosts", "lt-h1"],
        &["--hosts", "lt-h1,lt-h1"],
        &["--hosts", "lt-h1,"],
        &["--launcher-exec", "ssh"],
    ] {
        let out = Command::new(BENCH).arg("compare").args(args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A/B: another build (here the same one under another setting) is the baseline.
#[test]
fn compare_against_another_build() {
    let (log, rows) = compare_rows(
        &["--backend", "shmem", "--against", BENCH, "--against-env", "LAMELLAR_YIELD=0"],
        None,
    );
    assert_compared(
        &rows,
        BENCH,
        &[("put_pingpong", 8), ("put_bw", 65536), ("put_bw", 1048576)],
        &log,
    );
    let (log, rows) =
        compare_rows(&["--backend", "shmem", "--against", "/nonexistent/lamellar-bench"], None);
    assert!(
        rows[0]["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{log}"))
            .contains("/nonexistent/lamellar-bench not found"),
        "{log}"
    );
}

#[test]
fn tune_names_the_fastest_per_size_and_what_to_export() {
    let json = json_path("tune");
    let out = Command::new(BENCH)
        .args(["tune", "--backend", "shmem", "--sizes", "8,4K", "--iters", "200", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.trim_end().ends_with("export LAMELLAR_TRANSPORT=shmem"), "{stdout}");
    let rows = rows(&json);
    for (op, bytes) in [("put", 8), ("get", 8), ("put", 4096), ("get", 4096)] {
        let r = rows
            .iter()
            .find(|r| r["op"] == op && r["bytes"] == bytes)
            .unwrap_or_else(|| panic!("{op} {bytes}: {stdout}"));
        assert!(
            r["ns"].as_f64().unwrap() > 0.0 && r["windowed_beats_blocking"].is_boolean(),
            "{r}"
        );
    }
    assert_eq!(rows.last().unwrap()["export"], "export LAMELLAR_TRANSPORT=shmem");
}

/// On a terminal (here the pseudo-terminal util-linux's `script` gives it), PE 0 draws a
/// progress bar over the measurements on stderr; into a file or a pipe it draws nothing.
#[test]
fn a_progress_bar_on_a_terminal_only() {
    let cmd = format!("{BENCH} --pes 2 --ops put,get --sizes 8,64,4K,1M --iters 300000");
    let Ok(out) = Command::new("script").args(["-qec", &cmd, "/dev/null"]).output() else {
        eprintln!("script (util-linux) not installed: skipped");
        return;
    };
    let tty = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{tty}");
    assert!(
        tty.contains("/8 put") && tty.contains("/8 get"),
        "no progress bar on a terminal:\n{tty}"
    );
    let piped = Command::new(BENCH)
        .args(["--pes", "2", "--ops", "put", "--sizes", "8,64", "--iters", "20000"])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&piped.stderr).contains("/2 put"),
        "a progress bar into a pipe"
    );
}

#[test]
fn target_picks_the_pe_and_each_row_says_the_path_to_it() {
    let json = json_path("target");
    let mut cmd = Command::new(BENCH);
    cmd.args([
        "--pes",
        "3",
        "--target",
        "2",
        "--ops",
        "put,get,put_pingpong,fetch_add",
        "--sizes",
        "8",
        "--iters",
        "200",
        "--json",
    ])
    .arg(&json);
    let lines = run_and_read(cmd, &json);
    assert_eq!(lines.len(), 4, "{lines:?}");
    for l in &lines {
        let row: serde_json::Value = serde_json::from_str(l).unwrap();
        assert!(row["target"] == 2 && row["path"] == "shared_memory", "{l}");
    }
    // A rofi row named by its provider measures the provider (ROFI_LOCAL=0), unless the user
    // sets ROFI_LOCAL: then the node-local path, and the row says so.
    if cfg!(feature = "rofi") {
        for (local, path) in [(None, "network"), (Some("1"), "shared_memory")] {
            let json = json_path(&format!("target-rofi-{path}"));
            let mut cmd = Command::new(BENCH);
            cmd.args([
                "--backend",
                "rofi",
                "--provider",
                "shm",
                "--pes",
                "2",
                "--ops",
                "put",
                "--sizes",
                "8",
                "--iters",
                "200",
                "--json",
            ])
            .arg(&json);
            if let Some(v) = local {
                cmd.env("ROFI_LOCAL", v);
            }
            let lines = run_and_read(cmd, &json);
            assert!(
                lines[0].contains(&format!("\"path\":\"{path}\"")),
                "ROFI_LOCAL={local:?}: {}",
                lines[0]
            );
        }
    }
    for bad in ["0", "3"] {
        let out = Command::new(BENCH)
            .args(["--pes", "3", "--target", bad, "--ops", "put", "--sizes", "8", "--iters", "100"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(&format!("--target {bad}")),
            "--target {bad}: {err}"
        );
    }
}

/// Both sides across two hosts of the test bed (scripts/netns-hosts.sh, `LT_NETNS_DIR`): our
/// jobs and ofi-baseline under hydra, the perftest and fi_pingpong servers on one host and
/// their clients on the other. Every row names the hosts.
#[cfg(all(feature = "rofi", feature = "ucx"))]
#[test]
fn compare_across_two_hosts() {
    if !std::env::var("LT_NETNS_DIR")
        .is_ok_and(|d| std::path::Path::new(&d).join("lt-h2.pid").exists())
    {
        eprintln!("skip: no test hosts up (scripts/test-all.sh makes them as root)");
        return;
    }
    let exec = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/netns-exec");
    let across = ["--hosts", "lt-h1,lt-h2", "--launcher-exec", exec];
    let env = [("ROFI_DOMAIN", "lt0"), ("UCX_NET_DEVICES", "lt0")];
    let (log, rows) = compare_rows_with(
        &[&["--backend", "ucx", "--tls", "tcp,self"][..], &across].concat(),
        &env,
    );
    assert_compared(
        &rows,
        "ucx_perftest",
        &[("put_pingpong", 8), ("get", 8), ("fetch_add", 8), ("put_bw", 1048576)],
        &log,
    );
    let (log2, rows2) = compare_rows_with(
        &[&["--backend", "rofi", "--provider", "tcp;ofi_rxm"][..], &across].concat(),
        &env,
    );
    assert_compared(
        &rows2,
        "ofi-baseline",
        &[("put", 8), ("get", 8), ("fetch_add", 8), ("put_nb", 1048576)],
        &log2,
    );
    assert_compared(&rows2, "fi_pingpong", &[("put_pingpong", 8)], &log2);
    for r in rows.iter().chain(&rows2) {
        assert_eq!(r["hosts"], serde_json::json!(["lt-h1", "lt-h2"]), "{r}");
    }
}
