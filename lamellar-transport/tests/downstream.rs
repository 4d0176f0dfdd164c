//! A program that depends on lamellar-transport alone (plus build-support and one line in
//! its build.rs, as README shows) finds the native libraries of a site install without
//! LD_LIBRARY_PATH: libfabric at a non-system `OFI_DIR`, and the ROFI built for it.
#![cfg(feature = "rofi")]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BUILD_RS: &str = "fn main() {\n    build_support::rpath_from_deps(&[\"lamellar-transport\"]);\n}\n";

const MAIN_RS: &str = r#"
fn main() {
    let t = lamellar_transport::Transport::builder().backend("rofi").init().unwrap_or_else(|e| {
        eprintln!("init: {e}");
        std::process::exit(1)
    });
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    for lib in ["libfabric.so", "librofi.so"] {
        let path = maps.lines().filter_map(|l| l.split_whitespace().nth(5)).find(|p| p.contains(lib)).unwrap_or("none");
        println!("{lib}={path}");
    }
    t.finalize().unwrap();
}
"#;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// libfabric's shared objects and headers copied to a prefix the loader does not search.
fn copy_system_libfabric(prefix: &Path) {
    let libdir = Path::new("/usr/lib/x86_64-linux-gnu");
    std::fs::create_dir_all(prefix.join("lib")).unwrap();
    std::fs::create_dir_all(prefix.join("include")).unwrap();
    let mut copied = 0;
    for e in std::fs::read_dir(libdir).unwrap().flatten() {
        if e.file_name().to_string_lossy().starts_with("libfabric.so") {
            assert!(Command::new("cp").arg("-P").arg(e.path()).arg(prefix.join("lib")).status().unwrap().success());
            copied += 1;
        }
    }
    assert!(copied >= 2, "libfabric.so and its soname link (install libfabric-dev)");
    assert!(Command::new("cp").args(["-r", "/usr/include/rdma"]).arg(prefix.join("include")).status().unwrap().success());
}

#[test]
fn a_program_depending_on_lamellar_transport_alone_runs_without_ld_library_path() {
    if !Path::new("/usr/include/rdma/fabric.h").exists() {
        eprintln!("libfabric-dev not installed: skipped (scripts/test-all.sh installs it)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let ofi = tmp.path().join("ofi");
    copy_system_libfabric(&ofi);
    let app = tmp.path().join("app");
    std::fs::create_dir_all(app.join("src")).unwrap();
    let ws = workspace();
    let manifest = format!(
        "[package]\nname = \"lt_downstream\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
         [dependencies]\nlamellar-transport = {{ path = {:?}, default-features = false, features = [\"rofi\"] }}\n\n\
         [build-dependencies]\nbuild-support = {{ path = {:?} }}\n\n[workspace]\n",
        ws.join("lamellar-transport").display().to_string(),
        ws.join("build-support").display().to_string(),
    );
    std::fs::write(app.join("Cargo.toml"), manifest).unwrap();
    std::fs::write(app.join("build.rs"), BUILD_RS).unwrap();
    std::fs::write(app.join("src/main.rs"), MAIN_RS).unwrap();
    // The versions the workspace resolved and downloaded: the build stays offline.
    std::fs::copy(ws.join("Cargo.lock"), app.join("Cargo.lock")).unwrap();
    let target = ws.join("target").join("lt-downstream");
    let out = Command::new(env!("CARGO"))
        .args(["build", "--offline", "--manifest-path"])
        .arg(app.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .env("OFI_DIR", &ofi)
        .env_remove("ROFI_DIR")
        .env_remove("LD_LIBRARY_PATH")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "build failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let run = Command::new(target.join("debug").join("lt_downstream"))
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("PMI_FD")
        .env_remove("PMI_PORT")
        .env_remove("PMI_RANK")
        .env_remove("PMI_SIZE")
        .env("ROFI_PROVIDER", "shm")
        .env("LAMELLAR_TIMEOUT", "20")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "run failed ({}):\n{stdout}\n{}", run.status, String::from_utf8_lossy(&run.stderr));
    let fabric = stdout.lines().find_map(|l| l.strip_prefix("libfabric.so=")).unwrap_or("none");
    assert!(fabric.starts_with(&ofi.join("lib").display().to_string()), "libfabric from the site prefix, not {fabric}");
}
