//! Records the compiler version and the source commit for the benchmark's environment record.
//! The commit is read from .git files directly (no git process).

use std::path::Path;

fn git_commit(root: &Path) -> Option<String> {
    let git = root.join(".git");
    let head = std::fs::read_to_string(git.join("HEAD")).ok()?;
    let head = head.trim();
    let Some(r) = head.strip_prefix("ref: ") else { return Some(head.to_string()) };
    println!("cargo:rerun-if-changed={}", git.join(r).display());
    if let Ok(c) = std::fs::read_to_string(git.join(r)) {
        return Some(c.trim().to_string());
    }
    let packed = std::fs::read_to_string(git.join("packed-refs")).ok()?;
    packed.lines().find(|l| l.ends_with(r)).and_then(|l| l.split(' ').next()).map(str::to_string)
}

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=LB_RUSTC_VERSION={version}");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    println!("cargo:rerun-if-changed={}", root.join(".git/HEAD").display());
    let commit = git_commit(&root).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=LB_GIT_COMMIT={commit}");
    #[cfg(feature = "rofi")]
    rofi_baseline(&root);
}

/// Compiles the raw libfabric baseline (benches/raw-ofi) against the libfabric rofi-sys found,
/// its `main` renamed so that the `ofi-baseline` binary can call it. It uses nothing of ROFI's,
/// only libfabric's headers and library.
#[cfg(feature = "rofi")]
fn rofi_baseline(root: &Path) {
    build_support::rpath_from_deps(&["rofi"]);
    let dir = root.join("benches/raw-ofi");
    let sources = ["ofi_baseline.c", "fabric_select.c", "pmi1.c"];
    for f in sources.iter().chain(&["fabric_select.h", "pmi1.h"]) {
        println!("cargo:rerun-if-changed={}", dir.join(f).display());
    }
    let mut b = cc::Build::new();
    b.files(sources.iter().map(|f| dir.join(f)))
        .define("main", "ofi_baseline_main")
        .flag("-std=gnu11")
        .opt_level(2)
        .warnings(true)
        .extra_warnings(true);
    if let Ok(ofi_root) = std::env::var("DEP_ROFI_OFI_ROOT") {
        b.include(Path::new(&ofi_root).join("include"));
    }
    // With a library target, Cargo passes link libraries to it alone: the `ofi-baseline`
    // binary gets them through `lamellar_bench::raw_ofi`.
    b.compile("ofi_baseline");
    println!("cargo:rustc-link-lib=fabric");
    println!("cargo:rustc-link-lib=pthread");
}
