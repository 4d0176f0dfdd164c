//! Finds libfabric (OFI_DIR -> pkg-config libfabric -> vendored source build), then ROFI
//! (ROFI_DIR -> pkg-config rofi -> the bundled rofi/ built with autotools into OUT_DIR),
//! and generates bindings to rofi.h.
//!
//! Published metadata (links = "rofi"): DEP_ROFI_ROOT / _LIB / _INCLUDE / _VERSION for ROFI,
//! DEP_ROFI_OFI_ROOT / _OFI_LIB / _OFI_VERSION for libfabric. DEP_ROFI_LIB lists both lib
//! directories, so `build_support::rpath_from_deps(&["rofi"])` covers both.

mod libraries;

use build_support::{Env, Found, chain};
use libraries::{LIBFABRIC_SRC, OFI, ROFI, ofi_source_build, rofi_source_build};
use std::path::{Path, PathBuf};

fn run_chain(
    lib: &build_support::Library,
    source: &build_support::SourceBuild<'_>,
) -> (Found, Env) {
    let env = build_support::capture_env(lib);
    match chain::run(lib, &env, Some(source)) {
        Ok(f) => (f, env),
        Err(failure) => {
            eprintln!("\n{failure}\n");
            std::process::exit(1);
        }
    }
}

fn main() {
    println!("cargo::rerun-if-changed=build");
    println!("cargo::rerun-if-env-changed={LIBFABRIC_SRC}");
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    let vendored = std::env::var_os("CARGO_FEATURE_VENDORED").is_some();

    let vendor = manifest.join("../vendor");
    let (ofi, env) =
        run_chain(&OFI, &ofi_source_build(vendor.canonicalize().unwrap_or(vendor), vendored));
    let target = env.target();

    let rofi_src = manifest.join("rofi").canonicalize().unwrap_or_else(|_| manifest.join("rofi"));
    let (rofi, _) = run_chain(&ROFI, &rofi_source_build(&rofi_src, &ofi.root));

    // ROFI first on the link line: it refers to libfabric.
    for line in rofi.cargo_lines(&target) {
        if !line.starts_with("cargo::metadata=lib=") {
            println!("{line}");
        }
    }
    for line in ofi.cargo_lines_as(&target, "ofi_") {
        if !line.starts_with("cargo::metadata=include=") {
            println!("{line}");
        }
    }
    let both: Vec<&Path> =
        rofi.lib_dirs.iter().chain(ofi.lib_dirs.iter()).map(PathBuf::as_path).collect();
    let joined = std::env::join_paths(both).expect("lib dirs without ':'");
    println!("cargo::metadata=lib={}", joined.to_string_lossy());

    let mut b = bindgen::Builder::default()
        .header(
            rofi.include_dirs
                .iter()
                .map(|d| d.join("rofi.h"))
                .find(|p| p.exists())
                .expect("the chain checked rofi.h")
                .to_string_lossy(),
        )
        .allowlist_function("rofi_.*")
        .allowlist_type("rofi_.*")
        .allowlist_var("ROFI_.*")
        .default_enum_style(bindgen::EnumVariation::Consts)
        .prepend_enum_name(false)
        .layout_tests(false);
    for d in rofi.include_dirs.iter().chain(ofi.include_dirs.iter()) {
        b = b.clang_arg(format!("-I{}", d.display()));
    }
    b.generate()
        .expect("bindgen on rofi.h")
        .write_to_file(out.join("bindings.rs"))
        .expect("write bindings");
}
