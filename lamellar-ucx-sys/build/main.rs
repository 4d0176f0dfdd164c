//! Finds UCX (UCX_DIR -> pkg-config ucx -> source build from vendor/ or
//! UCX_SRC), generates the bindings and compiles the C shim against the same
//! headers.

mod bindings;
mod ucx;

use std::path::PathBuf;

fn main() {
    println!("cargo::rerun-if-changed=build");
    println!("cargo::rerun-if-changed=src/shim.c");
    println!("cargo::rerun-if-changed=src/shim.h");
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));

    // The workspace's vendor/ (shown to users, so without "..").
    let vendor = manifest_dir.join("../vendor");
    let source = ucx::source_build(vendor.canonicalize().unwrap_or(vendor));
    let found = build_support::find(&ucx::UCX, Some(&source));

    cc::Build::new()
        .file("src/shim.c")
        .includes(&found.include_dirs)
        .flag_if_supported("-Wall")
        .compile("lamellar_ucx_shim");
    // The shim refers to ucp/ucs, so the UCX libraries must come after it on
    // the link line (matters for static UCX and --as-needed).
    for lib in &found.libs {
        println!("cargo::rustc-link-lib={lib}");
    }

    bindings::generate(&found.include_dirs, &out_dir.join("bindings.rs"));
}
