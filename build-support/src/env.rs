//! The environment as a value. Probes read only this, never `std::env`, so
//! tests can run them side by side with different environments, and the
//! top level knows exactly which variables were read.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

/// Variables Cargo sets for a build script. Read, but no `rerun-if-env-changed`
/// (Cargo re-runs the script when they change anyway).
pub const CARGO_VARS: &[&str] = &[
    "OUT_DIR",
    "TARGET",
    "HOST",
    "NUM_JOBS",
    "CARGO_PKG_NAME",
    "CARGO_PKG_VERSION",
    "CARGO_MANIFEST_DIR",
];

#[derive(Clone, Debug, Default)]
pub struct Env {
    vars: BTreeMap<String, OsString>,
}

impl Env {
    pub fn new() -> Self {
        Env::default()
    }

    /// Builder used by tests and callers: `Env::new().with("UCX_DIR", "/opt/ucx")`.
    pub fn with(mut self, name: &str, value: impl Into<OsString>) -> Self {
        self.vars.insert(name.to_string(), value.into());
        self
    }

    /// Snapshot of the named process variables (only those: never the whole environment).
    pub fn from_process<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let mut env = Env::new();
        for name in names {
            if let Some(value) = std::env::var_os(name) {
                env.vars.insert(name.to_string(), value);
            }
        }
        env
    }

    /// The value, treating an empty variable as unset (as `FOO_DIR=` usually means).
    pub fn get(&self, name: &str) -> Option<&OsStr> {
        self.vars.get(name).map(OsString::as_os_str).filter(|v| !v.is_empty())
    }

    pub fn path(&self, name: &str) -> Option<PathBuf> {
        self.get(name).map(PathBuf::from)
    }

    /// For messages and Cargo values: lossy is fine there.
    pub fn display(&self, name: &str) -> Option<String> {
        self.get(name).map(|v| v.to_string_lossy().into_owned())
    }

    /// `TARGET`, falling back to the triple this crate was compiled for when
    /// run outside a build script (unit tests).
    pub fn target(&self) -> String {
        self.display("TARGET").unwrap_or_else(|| env!("BUILD_SUPPORT_TARGET").to_string())
    }

    pub fn host(&self) -> String {
        self.display("HOST").unwrap_or_else(|| env!("BUILD_SUPPORT_TARGET").to_string())
    }

    /// Where probes may write scratch files.
    pub fn out_dir(&self) -> PathBuf {
        self.path("OUT_DIR").unwrap_or_else(std::env::temp_dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_is_unset() {
        let env = Env::new().with("A_DIR", "").with("B_DIR", "/x");
        assert_eq!(env.get("A_DIR"), None);
        assert_eq!(env.path("B_DIR"), Some(PathBuf::from("/x")));
        assert_eq!(env.display("C_DIR"), None);
    }
}
