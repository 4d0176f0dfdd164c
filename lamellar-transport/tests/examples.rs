//! The examples run as jobs, on every compiled backend: `active_messages` is the proof that
//! an active-message runtime needs nothing beyond the public API.

use std::path::PathBuf;
use std::process::Command;

/// target/<profile>/, from this test's path (target/<profile>/deps/<test>).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("own path");
    exe.parent().and_then(|d| d.parent()).expect("target/<profile>/deps/<test>").to_path_buf()
}

/// `path`, built by `cargo build <cargo_args>` in this profile when missing (a test run of
/// this crate alone builds neither the launcher nor the examples' binaries there).
fn built(path: PathBuf, cargo_args: &[&str]) -> PathBuf {
    if !path.exists() {
        let mut cargo = Command::new(env!("CARGO"));
        cargo.args(cargo_args);
        if profile_dir().ends_with("release") {
            cargo.arg("--release");
        }
        assert!(cargo.status().is_ok_and(|s| s.success()), "cannot build {}", path.display());
    }
    path
}

#[test]
fn active_message_histogram_runs_on_every_backend() {
    let run = built(profile_dir().join("lamellar-run"), &["build", "-q", "-p", "lamellar-run"]);
    let features = lamellar_transport::compiled_backends().join(",");
    let example = built(
        profile_dir().join("examples/active_messages"),
        &[
            "build",
            "-q",
            "-p",
            "lamellar-transport",
            "--example",
            "active_messages",
            "--features",
            &features,
        ],
    );
    let mut configs: Vec<(&str, Vec<(&str, &str)>)> = Vec::new();
    for b in lamellar_transport::compiled_backends() {
        match b {
            "rofi" => {
                configs.push((
                    "rofi shm",
                    vec![("LAMELLAR_TRANSPORT", "rofi"), ("ROFI_PROVIDER", "shm")],
                ));
                configs.push((
                    "rofi tcp",
                    vec![
                        ("LAMELLAR_TRANSPORT", "rofi"),
                        ("ROFI_PROVIDER", "tcp;ofi_rxm"),
                        ("ROFI_LOCAL", "0"),
                    ],
                ));
            }
            "ucx" => configs.push((
                "ucx shm",
                vec![("LAMELLAR_TRANSPORT", "ucx"), ("UCX_TLS", "posix,sysv,cma,self")],
            )),
            other => configs.push((other, vec![("LAMELLAR_TRANSPORT", other)])),
        }
    }
    for (name, env) in configs {
        for p in ["2", "3"] {
            let out = Command::new(&run)
                .args(["-n", p, "--timeout", "120", "--"])
                .arg(&example)
                .arg("20000")
                .envs(env.clone())
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && stdout.contains("histogram: ok"),
                "{name} P={p}: {}\n{stdout}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            println!("{name} P={p}: {}", stdout.trim());
        }
    }
}
