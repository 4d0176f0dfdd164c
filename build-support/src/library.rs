//! The data that describes one native library: everything a probe or the
//! failure message needs, and nothing about *how* to probe.

use std::fmt;

/// A `major.minor.patch` version; compared field by field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl Version {
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        Version { major, minor, patch }
    }

    /// Parses `1.13.1`, `1.17` or `1.2.3rc1` (trailing non-digits ignored).
    pub fn parse(s: &str) -> Option<Version> {
        let mut parts = s.trim().split('.').map(|p| {
            let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<u32>().ok()
        });
        let major = parts.next()??;
        let minor = parts.next().flatten().unwrap_or(0);
        let patch = parts.next().flatten().unwrap_or(0);
        Some(Version::new(major, minor, patch))
    }
}

impl fmt::Display for Version {
    // Headers only give major.minor, so a zero patch is left out rather than invented.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.patch == 0 {
            write!(f, "{}.{}", self.major, self.minor)
        } else {
            write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
        }
    }
}

/// Distribution packages that provide the library's headers and `.so`.
#[derive(Clone, Copy, Debug)]
pub struct Packages {
    /// Debian/Ubuntu, e.g. `libucx-dev`.
    pub debian: &'static str,
    /// RHEL/Fedora, e.g. `ucx-devel`.
    pub rhel: &'static str,
}

/// One native library, described once per -sys crate.
#[derive(Clone, Copy, Debug)]
pub struct Library {
    /// Name used in messages, e.g. `UCX`.
    pub name: &'static str,
    /// Prefix of the user's variables: `UCX` reads `UCX_DIR` and `UCX_SRC`.
    pub env_prefix: &'static str,
    /// pkg-config module, e.g. `ucx`.
    pub pkg_config: &'static str,
    /// Oldest version we accept (checked against pkg-config *and* the header).
    pub min_version: Version,
    /// Libraries to link, in link order. The prefix probe requires each as a file.
    pub libs: &'static [&'static str],
    /// Header that must compile and that defines `version_macros`, e.g. `ucp/api/ucp.h`.
    pub header: &'static str,
    /// Macros giving the major and minor version, e.g. `("UCP_API_MAJOR", "UCP_API_MINOR")`.
    pub version_macros: (&'static str, &'static str),
    pub packages: Packages,
    /// Cargo feature that forces the source build, if the crate has one.
    pub vendored_feature: Option<&'static str>,
}

impl Library {
    /// `UCX_DIR`: an install prefix chosen by the user.
    pub fn dir_var(&self) -> String {
        format!("{}_DIR", self.env_prefix)
    }

    /// `UCX_SRC`: a source tree for the source build.
    pub fn src_var(&self) -> String {
        format!("{}_SRC", self.env_prefix)
    }

    /// Every user-set variable the probe chain may read; the top level emits
    /// `rerun-if-env-changed` for each so a change re-runs the build script.
    pub fn env_vars(&self) -> Vec<String> {
        let mut vars = vec![self.dir_var(), self.src_var()];
        vars.extend(crate::pkg_config::VARS.iter().map(|s| s.to_string()));
        vars.extend(crate::source_build::VARS.iter().map(|s| s.to_string()));
        vars
    }

    /// `"UCX >= 1.12"`.
    pub fn wanted(&self) -> String {
        format!("{} >= {}", self.name, self.min_version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_versions() {
        assert_eq!(Version::parse("1.13.1"), Some(Version::new(1, 13, 1)));
        assert_eq!(Version::parse("1.17"), Some(Version::new(1, 17, 0)));
        assert_eq!(Version::parse("1.12.0rc1\n"), Some(Version::new(1, 12, 0)));
        assert_eq!(Version::parse("x"), None);
        assert!(Version::new(1, 9, 0) < Version::new(1, 12, 0));
        assert_eq!(Version::new(1, 12, 0).to_string(), "1.12");
        assert_eq!(Version::new(1, 13, 1).to_string(), "1.13.1");
    }
}
