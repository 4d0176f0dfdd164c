//! lamellar-run as a process: exit status, naming the failing PE, timeouts, labels,
//! /dev/shm cleanup. Each PE here is a small shell script, so these test the launcher alone.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn lamellar_run(args: &[&str]) -> (Output, Duration) {
    let t0 = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_lamellar-run")).args(args).output().unwrap();
    (out, t0.elapsed())
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn success_is_exit_zero_and_every_pe_gets_rank_and_size() {
    let (o, _) = lamellar_run(&["-n", "3", "--", "sh", "-c", "echo $PMI_RANK/$PMI_SIZE"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut lines: Vec<String> =
        String::from_utf8_lossy(&o.stdout).lines().map(str::to_string).collect();
    lines.sort();
    assert_eq!(lines, ["0/3", "1/3", "2/3"]);
}

#[test]
fn first_failing_pe_sets_status_and_is_named_and_others_are_stopped() {
    let (o, took) =
        lamellar_run(&["-n", "3", "sh", "-c", "if [ $PMI_RANK = 1 ]; then exit 7; fi; sleep 60"]);
    assert_eq!(o.status.code(), Some(7));
    assert!(stderr(&o).contains("PE 1 (pid"), "{}", stderr(&o));
    assert!(stderr(&o).contains("exited with status 7"), "{}", stderr(&o));
    assert!(took < Duration::from_secs(20), "took {took:?}");
}

#[test]
fn killed_pe_is_reported_with_its_signal() {
    let (o, took) = lamellar_run(&[
        "-n",
        "2",
        "sh",
        "-c",
        "if [ $PMI_RANK = 0 ]; then kill -9 $$; fi; sleep 60",
    ]);
    assert_eq!(o.status.code(), Some(128 + 9));
    assert!(stderr(&o).contains("PE 0") && stderr(&o).contains("signal 9"), "{}", stderr(&o));
    assert!(took < Duration::from_secs(20));
}

#[test]
fn pe_ignoring_term_is_killed_after_the_grace_period() {
    let script =
        "trap '' TERM; if [ $PMI_RANK = 1 ]; then exit 3; fi; while true; do sleep 1; done";
    let (o, took) = lamellar_run(&["-n", "2", "sh", "-c", script]);
    assert_eq!(o.status.code(), Some(3));
    assert!(took < Duration::from_secs(20), "took {took:?}");
}

#[test]
fn timeout_kills_a_hung_job_and_says_so() {
    let (o, took) = lamellar_run(&["-n", "2", "--timeout", "1", "--", "sleep", "60"]);
    assert_eq!(o.status.code(), Some(124));
    assert!(stderr(&o).contains("timed out after 1 s"), "{}", stderr(&o));
    assert!(took < Duration::from_secs(15), "took {took:?}");
}

#[test]
fn label_prefixes_every_line() {
    let (o, _) = lamellar_run(&["-n", "2", "--label", "sh", "-c", "echo out; echo err >&2"]);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("[pe 0] out") && out.contains("[pe 1] out"), "{out}");
    let err = stderr(&o);
    assert!(err.contains("[pe 0] err") && err.contains("[pe 1] err"), "{err}");
}

fn dev_shm() -> std::collections::BTreeSet<String> {
    std::fs::read_dir("/dev/shm")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn leftovers_of_this_job_are_removed_from_dev_shm_and_nothing_else() {
    let other = format!("/dev/shm/not-ours-{}", std::process::id());
    std::fs::write(&other, b"x").unwrap();
    let before = dev_shm();
    let pids = std::env::temp_dir().join(format!("lamellar-run-test-pids-{}", std::process::id()));
    // Each PE leaves one of our objects and one libfabric-shm-style region, then dies.
    let script = format!(
        "echo $$ >> {}; touch /dev/shm/lt-$LAMELLAR_RUN_KVSNAME-crash-$PMI_RANK; touch /dev/shm/$$:0:0; kill -9 $$",
        pids.display()
    );
    let (o, _) = lamellar_run(&["-n", "2", "sh", "-c", &script]);
    let pids: Vec<String> =
        std::fs::read_to_string(&pids).unwrap().lines().map(|p| format!("{p}:0:0")).collect();
    assert_eq!(pids.len(), 2);
    let still_there = std::path::Path::new(&other).exists();
    let _ = std::fs::remove_file(&other);
    assert!(!o.status.success());
    // Other jobs on this machine may add files meanwhile: only ours are checked.
    let left: Vec<String> = dev_shm()
        .difference(&before)
        .filter(|n| n.starts_with("lt-lr") || pids.contains(n))
        .cloned()
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert!(still_there, "removed a file that was not ours");
}

#[test]
fn malformed_pmi_from_a_pe_does_not_bring_down_the_launcher() {
    let (o, _) = lamellar_run(&["-n", "2", "sh", "-c", "echo garbage >&$PMI_FD; exit 0"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// The CPUs this test may use, as the kernel lists them for a process.
fn allowed_cpus(status: &str) -> Vec<usize> {
    let list = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .unwrap()
        .trim()
        .to_string();
    list.split(',')
        .flat_map(|r| {
            let (a, b) = r.split_once('-').unwrap_or((r, r));
            a.parse::<usize>().unwrap()..=b.parse::<usize>().unwrap()
        })
        .collect()
}

#[test]
fn bind_to_core_pins_each_pe_to_one_allowed_cpu_round_robin() {
    let mine = allowed_cpus(&std::fs::read_to_string("/proc/self/status").unwrap());
    let n = mine.len() + 1; // one more PE than CPUs: the last wraps around
    let (o, _) = lamellar_run(&[
        "-n",
        &n.to_string(),
        "--bind-to",
        "core",
        "sh",
        "-c",
        "echo $PMI_RANK $(grep Cpus_allowed_list /proc/self/status)",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut got: Vec<(usize, Vec<usize>)> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| {
            let (rank, rest) = l.split_once(' ').unwrap();
            (rank.parse().unwrap(), allowed_cpus(rest))
        })
        .collect();
    got.sort();
    let want: Vec<(usize, Vec<usize>)> =
        (0..n).map(|pe| (pe, vec![mine[pe % mine.len()]])).collect();
    assert_eq!(got, want);

    // Without the flag a PE keeps the launcher's whole set.
    let (o, _) = lamellar_run(&["-n", "1", "sh", "-c", "grep Cpus_allowed_list /proc/self/status"]);
    assert_eq!(allowed_cpus(&String::from_utf8_lossy(&o.stdout)), mine);
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &[][..],
        &["-n", "0", "true"],
        &["--bogus", "true"],
        &["-n", "2"],
        &["-n", "2", "--timeout", "-1", "true"],
        &["-n", "2", "--bind-to", "socket", "true"],
    ] {
        let (o, _) = lamellar_run(args);
        assert_eq!(o.status.code(), Some(2), "args {args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("usage"), "{}", stderr(&o));
    }
}

#[test]
fn missing_program_is_an_error_not_a_hang() {
    let (o, took) = lamellar_run(&["-n", "2", "/nonexistent/program"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("cannot start"), "{}", stderr(&o));
    assert!(took < Duration::from_secs(5));
}

/// Whether process `pid` still exists (a zombie counts as gone).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X']))
        })
        .unwrap_or(false)
}

#[test]
fn a_killed_launcher_takes_its_pes_and_their_dev_shm_files_with_it() {
    for sig in [libc::SIGKILL, libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT] {
        let dir = std::env::temp_dir().join(format!("lr-kill-{}-{sig}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Each PE leaves a file named as libfabric's shm provider names its regions, records
        // its pid, and would run for a minute.
        let script = "touch /dev/shm/$$:0:lrtest; echo $$ > \"$PE_DIR/$PMI_RANK\"; sleep 60";
        let mut launcher = Command::new(env!("CARGO_BIN_EXE_lamellar-run"))
            .args(["-n", "2", "--", "sh", "-c", script])
            .env("PE_DIR", &dir)
            .spawn()
            .unwrap();
        let t0 = Instant::now();
        let pids: Vec<u32> = loop {
            let p: Vec<u32> = (0..2)
                .filter_map(|r| {
                    std::fs::read_to_string(dir.join(r.to_string())).ok()?.trim().parse().ok()
                })
                .collect();
            if p.len() == 2 {
                break p;
            }
            assert!(t0.elapsed() < Duration::from_secs(10), "PEs did not start");
            std::thread::sleep(Duration::from_millis(20));
        };
        // SAFETY: kill on our own child's pid.
        unsafe { libc::kill(launcher.id() as i32, sig) };
        let _ = launcher.wait();
        let t0 = Instant::now();
        let files = |p: &u32| std::path::Path::new(&format!("/dev/shm/{p}:0:lrtest")).exists();
        while (pids.iter().any(|&p| alive(p)) || pids.iter().any(files))
            && t0.elapsed() < Duration::from_secs(5)
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            !pids.iter().any(|&p| alive(p)),
            "signal {sig}: PEs {pids:?} outlived their launcher"
        );
        assert!(
            !pids.iter().any(files),
            "signal {sig}: /dev/shm files of PEs {pids:?} left behind"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// A program that reads a job's output (lamellar-bench compare reading ofi-baseline's rows)
/// gets every PE's lines in its file, none on the launcher's stdout.
#[test]
fn stdout_to_collects_every_pe_output_in_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out");
    let mut spec = lamellar_run::JobSpec::new(3, "sh");
    spec.args = vec!["-c".into(), "echo line from $PMI_RANK".into()];
    spec.stdout_to = Some(file.clone());
    let outcome = lamellar_run::run(&spec).unwrap();
    assert_eq!(outcome.code, 0, "{:?}", outcome.failure);
    let mut lines: Vec<String> =
        std::fs::read_to_string(&file).unwrap().lines().map(str::to_string).collect();
    lines.sort();
    assert_eq!(lines, ["line from 0", "line from 1", "line from 2"]);
}
