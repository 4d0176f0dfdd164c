//! ofi-baseline (raw libfabric, feature `rofi`): its op groups and its bad input.
#![cfg(feature = "rofi")]

use std::process::Command;

const BASELINE: &str = env!("CARGO_BIN_EXE_ofi-baseline");

/// Two PEs on shm under lamellar-run with OFI_BASELINE_OPS=`group`; the ops PE 0 reported.
fn ops_of(group: &str) -> Vec<String> {
    run(group, &[]).iter().map(|l| format!("{} {}", field(l, "op"), field(l, "bytes"))).collect()
}

/// The JSON lines of such a run, with extra environment.
fn run(group: &str, env: &[(&str, &str)]) -> Vec<String> {
    let run = std::path::Path::new(BASELINE).with_file_name("lamellar-run");
    if !run.exists() {
        Command::new(env!("CARGO"))
            .args(["build", "-p", "lamellar-transport", "--bin", "lamellar-run"])
            .status()
            .unwrap();
    }
    let out = Command::new(run)
        .args(["-n", "2", "--timeout", "120", BASELINE])
        .env("ROFI_PROVIDER", "shm")
        .env("OFI_BASELINE_ITERS", "200")
        .env("OFI_BASELINE_WINDOW", "4")
        .env("OFI_BASELINE_OPS", group)
        .env_remove("OFI_BASELINE_IDLE_THREAD")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(out.status.success(), "ofi-baseline failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines().filter(|l| l.starts_with('{')).map(String::from).collect()
}

fn field<'a>(line: &'a str, name: &str) -> &'a str {
    let rest = &line[line
        .find(&format!("\"{name}\":"))
        .unwrap_or_else(|| panic!("{name} missing in {line}"))
        + name.len()
        + 3..];
    rest[..rest.find([',', '}']).unwrap()].trim_matches('"')
}

#[test]
fn each_group_runs_its_ops_only() {
    assert_eq!(ops_of("latency"), ["put 8", "get 8", "fetch_add 8"]);
    assert_eq!(ops_of("bandwidth"), ["put_nb 65536", "put_nb 1048576"]);
}

#[test]
fn an_unknown_group_fails_at_once_naming_the_choices() {
    let out = Command::new(BASELINE).env("OFI_BASELINE_OPS", "latncy").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("OFI_BASELINE_OPS=latncy") && err.contains("latency or bandwidth"),
        "{err}"
    );
}

#[test]
fn idle_thread_runs_as_a_second_thread() {
    let threads = |env: &[(&str, &str)]| -> Vec<String> {
        run("latency", env).iter().map(|l| field(l, "threads").to_string()).collect()
    };
    assert_eq!(threads(&[]), ["1", "1", "1"]);
    assert_eq!(threads(&[("OFI_BASELINE_IDLE_THREAD", "1")]), ["2", "2", "2"]);
    assert_eq!(threads(&[("OFI_BASELINE_IDLE_THREAD", "0")]), ["1", "1", "1"]);
}
