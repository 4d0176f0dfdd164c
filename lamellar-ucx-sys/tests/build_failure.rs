//! A real `cargo build` of a crate depending on lamellar-ucx-sys with UCX_DIR
//! pointing nowhere must fail with build-support's diagnostic, not with a
//! bindgen or linker error, and must not fall back to the system UCX.

use std::path::{Path, PathBuf};
use std::process::Command;

#[test]
fn wrong_ucx_dir_fails_with_the_diagnostic() {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let consumer = tempfile::tempdir().unwrap();
    std::fs::create_dir(consumer.path().join("src")).unwrap();
    std::fs::write(consumer.path().join("src/lib.rs"), "").unwrap();
    std::fs::write(
        consumer.path().join("Cargo.toml"),
        format!(
            "[package]\nname = \"ucx-consumer\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\n\
             [dependencies]\nlamellar-ucx-sys = {{ path = {:?} }}\n\n[workspace]\n",
            manifest_dir.display().to_string()
        ),
    )
    .unwrap();
    // Pin the versions the workspace already built and downloaded: no network needed.
    if let Some(lock) = manifest_dir.ancestors().map(|d| d.join("Cargo.lock")).find(|p| p.is_file())
    {
        std::fs::copy(lock, consumer.path().join("Cargo.lock")).unwrap();
    }
    // Kept between runs (under target/tmp) so only the first run compiles bindgen.
    let target_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ucx-build-failure");

    let out = Command::new(env!("CARGO"))
        .arg("build")
        .arg("--offline")
        .arg("--manifest-path")
        .arg(consumer.path().join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target_dir)
        .env("UCX_DIR", "/nonexistent/ucx")
        .env_remove("PKG_CONFIG_PATH")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "build must fail:\n{stderr}");
    for expected in [
        "could not find UCX >= 1.12, needed by lamellar-ucx-sys 0.1.0",
        "  1. UCX_DIR=/nonexistent/ucx: /nonexistent/ucx is not a directory\n",
        "  2. pkg-config ucx: skipped (UCX_DIR is set, so only that prefix is used)\n",
        "Debian/Ubuntu:  apt-get install libucx-dev\n",
        "RHEL/Fedora:    dnf install ucx-devel\n",
        "set UCX_DIR to an install prefix with lib/libucp.so",
        "or unset UCX_DIR so the other probes run",
        "add the directory holding ucx.pc to PKG_CONFIG_PATH",
        "  target:  ",
    ] {
        assert!(stderr.contains(expected), "missing {expected:?} in:\n{stderr}");
    }
    assert!(!stderr.contains("panicked"), "the failure is a message, not a panic:\n{stderr}");
}
