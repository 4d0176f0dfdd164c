//! bindgen over ucp.h + our shim.h. Enums become plain integer constants:
//! UCX may hand back values this header does not know, and an out-of-range
//! Rust enum would be undefined behaviour.

use std::path::{Path, PathBuf};

pub fn generate(include_dirs: &[PathBuf], out: &Path) {
    let bindings = bindgen::Builder::default()
        .header("src/shim.h")
        .clang_args(include_dirs.iter().map(|d| format!("-I{}", d.display())))
        .allowlist_function("ucp_.*|ucs_status_string|lamellar_.*")
        .allowlist_type("ucp_.*|ucs_.*")
        .allowlist_var("UCP_.*|UCS_.*")
        .default_enum_style(bindgen::EnumVariation::Consts)
        .prepend_enum_name(false)
        // ucp_init is `static inline` in C; the shim exports it instead.
        .blocklist_function("ucp_init")
        .derive_default(true)
        .layout_tests(false)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .generate()
        .unwrap_or_else(|e| panic!("bindgen failed on ucp/api/ucp.h: {e}"));
    bindings.write_to_file(out).unwrap_or_else(|e| panic!("cannot write {}: {e}", out.display()));
}
