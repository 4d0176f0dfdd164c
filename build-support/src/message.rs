//! The failure message, modelled on openssl-sys's: what was wanted, what each
//! probe found, the exact fixes, and what to put in a bug report.

use crate::chain::Attempt;
use crate::env::Env;
use crate::library::Library;
use crate::source_build::SourceBuild;
use std::fmt;

/// Everything the message needs, captured when the chain gives up.
#[derive(Clone, Debug)]
pub struct Failure {
    pub library: Library,
    pub attempts: Vec<Attempt>,
    /// The source build's fix line, when the crate has one.
    pub source_hint: Option<String>,
    pub dir_is_set: bool,
    pub crate_name: String,
    pub crate_version: String,
    pub host: String,
    pub target: String,
}

impl Failure {
    pub fn new(
        lib: &Library,
        env: &Env,
        attempts: Vec<Attempt>,
        source: Option<&SourceBuild<'_>>,
    ) -> Self {
        let unknown = || "unknown".to_string();
        Failure {
            library: *lib,
            attempts,
            source_hint: source.map(|s| s.hint.clone()),
            dir_is_set: env.get(&lib.dir_var()).is_some(),
            crate_name: env.display("CARGO_PKG_NAME").unwrap_or_else(unknown),
            crate_version: env.display("CARGO_PKG_VERSION").unwrap_or_else(unknown),
            host: env.host(),
            target: env.target(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lib = &self.library;
        let krate = format!("{} {}", self.crate_name, self.crate_version);
        writeln!(f, "could not find {}, needed by {krate}", lib.wanted())?;
        writeln!(f)?;
        writeln!(f, "Probes tried, in order:")?;
        for (i, a) in self.attempts.iter().enumerate() {
            writeln!(f, "  {}. {}: {}", i + 1, a.probe, a.result)?;
        }
        writeln!(f)?;
        writeln!(f, "To fix, do one of:")?;
        writeln!(f, "  - install the development package:")?;
        writeln!(f, "      Debian/Ubuntu:  apt-get install {}", lib.packages.debian)?;
        writeln!(f, "      RHEL/Fedora:    dnf install {}", lib.packages.rhel)?;
        let (dir, first) = (lib.dir_var(), lib.libs[0]);
        write!(
            f,
            "  - set {dir} to an install prefix with lib/lib{first}.so (or lib64/, lib/<multiarch>/) \
             and include/{}",
            lib.header
        )?;
        if self.dir_is_set {
            write!(f, ", or unset {dir} so the other probes run")?;
        }
        writeln!(f)?;
        writeln!(f, "  - add the directory holding {}.pc to PKG_CONFIG_PATH", lib.pkg_config)?;
        if let Some(hint) = &self.source_hint {
            writeln!(f, "  - {hint}")?;
        }
        if let Some(feature) = lib.vendored_feature {
            writeln!(
                f,
                "  - enable the `{feature}` feature of {} to build from source",
                self.crate_name
            )?;
        }
        writeln!(f)?;
        writeln!(f, "If none of that helps, report a bug with this message and:")?;
        writeln!(f, "  crate:   {krate}")?;
        writeln!(f, "  host:    {}", self.host)?;
        write!(f, "  target:  {}", self.target)
    }
}
