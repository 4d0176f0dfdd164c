//! What a successful probe returns, and the Cargo lines that publish it.

use crate::library::Version;
use crate::rpath;
use std::env::join_paths;
use std::path::PathBuf;

/// Which probe produced the result (shown in `cargo -vv` output and to callers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    EnvDir,
    PkgConfig,
    SourceBuild,
}

/// A library that was found and whose header reports an accepted version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub method: Method,
    /// Install prefix actually used (`DEP_<LINKS>_ROOT`).
    pub root: PathBuf,
    /// Directories holding the libraries (`DEP_<LINKS>_LIB`, link search, rpath).
    pub lib_dirs: Vec<PathBuf>,
    /// Directories to pass as `-I` to bindgen / cc (`DEP_<LINKS>_INCLUDE`).
    pub include_dirs: Vec<PathBuf>,
    /// Libraries to link, as Cargo `rustc-link-lib` values (`ucp`, `static=rofi`).
    pub libs: Vec<String>,
    /// Version reported by the header (the authority; pkg-config can be stale).
    pub version: Version,
    /// Sources of a source build: edits there must re-run the build script.
    pub rerun_if_changed: Vec<PathBuf>,
}

impl Found {
    /// Lines for the build script's stdout. `target` decides which library
    /// directories are system defaults (no rpath for those).
    pub fn cargo_lines(&self, target: &str) -> Vec<String> {
        self.cargo_lines_as(target, "")
    }

    /// Same, with metadata keys prefixed: a crate that finds two libraries
    /// (rofi-sys: libfabric, then ROFI) publishes the first as `ofi_root`,
    /// `ofi_lib`, ... i.e. `DEP_ROFI_OFI_ROOT`, `DEP_ROFI_OFI_LIB`.
    pub fn cargo_lines_as(&self, target: &str, key_prefix: &str) -> Vec<String> {
        let k = key_prefix;
        let mut lines = Vec::new();
        for dir in &self.lib_dirs {
            lines.push(format!("cargo::rustc-link-search=native={}", dir.display()));
        }
        for lib in &self.libs {
            lines.push(format!("cargo::rustc-link-lib={lib}"));
        }
        // Dependents read these as DEP_<LINKS>_ROOT / _LIB / _INCLUDE / _VERSION.
        lines.push(format!("cargo::metadata={k}root={}", self.root.display()));
        lines.push(format!("cargo::metadata={k}lib={}", joined(&self.lib_dirs)));
        lines.push(format!("cargo::metadata={k}include={}", joined(&self.include_dirs)));
        lines.push(format!("cargo::metadata={k}version={}", self.version));
        // Reaches only this crate's own tests/examples; dependents call
        // `rpath_from_deps` in their build scripts.
        lines.extend(rpath::link_args(&self.lib_dirs, target));
        for path in &self.rerun_if_changed {
            lines.push(format!("cargo::rerun-if-changed={}", path.display()));
        }
        lines
    }
}

/// `PATH`-style list, so several directories survive the trip through one variable.
fn joined(dirs: &[PathBuf]) -> String {
    join_paths(dirs).map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publishes_links_metadata_and_rpath_for_non_system_dirs() {
        let found = Found {
            method: Method::EnvDir,
            root: "/opt/ucx".into(),
            lib_dirs: vec!["/opt/ucx/lib".into(), "/usr/lib/x86_64-linux-gnu".into()],
            include_dirs: vec!["/opt/ucx/include".into()],
            libs: vec!["ucp".into(), "ucs".into()],
            version: Version::new(1, 13, 0),
            rerun_if_changed: vec!["/src/rofi".into()],
        };
        assert_eq!(
            found.cargo_lines("x86_64-unknown-linux-gnu"),
            [
                "cargo::rustc-link-search=native=/opt/ucx/lib",
                "cargo::rustc-link-search=native=/usr/lib/x86_64-linux-gnu",
                "cargo::rustc-link-lib=ucp",
                "cargo::rustc-link-lib=ucs",
                "cargo::metadata=root=/opt/ucx",
                "cargo::metadata=lib=/opt/ucx/lib:/usr/lib/x86_64-linux-gnu",
                "cargo::metadata=include=/opt/ucx/include",
                "cargo::metadata=version=1.13",
                "cargo::rustc-link-arg=-Wl,-rpath,/opt/ucx/lib",
                "cargo::rerun-if-changed=/src/rofi",
            ]
        );
        let prefixed = found.cargo_lines_as("x86_64-unknown-linux-gnu", "ofi_");
        assert!(prefixed.contains(&"cargo::metadata=ofi_root=/opt/ucx".to_string()));
        assert!(prefixed.contains(
            &"cargo::metadata=ofi_lib=/opt/ucx/lib:/usr/lib/x86_64-linux-gnu".to_string()
        ));
    }
}
