//! The probe chain: `<PREFIX>_DIR` -> pkg-config -> source build. Each probe
//! returns a value; the chain records every attempt so a failure can say
//! what was tried and what each probe saw.

use crate::env::Env;
use crate::env_dir;
use crate::found::{Found, Method};
use crate::library::Library;
use crate::message::Failure;
use crate::pkg_config;
use crate::source_build::SourceBuild;

/// One probe's line in the failure message: `UCX_DIR=/x` -> `/x is not a directory`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    pub probe: String,
    pub result: String,
}

fn attempt(probe: impl Into<String>, result: impl Into<String>) -> Attempt {
    Attempt { probe: probe.into(), result: result.into() }
}

/// Runs the chain against `env` (never the process environment).
pub fn run(
    lib: &Library,
    env: &Env,
    source: Option<&SourceBuild<'_>>,
) -> Result<Found, Box<Failure>> {
    let mut attempts = Vec::new();
    let dir_var = lib.dir_var();
    let pc_probe = format!("pkg-config {}", lib.pkg_config);
    let src_probe = |s: &SourceBuild<'_>| format!("source build, {}", s.what);

    // An explicit prefix is the user's decision: on failure, report it rather
    // than quietly using some other copy of the library.
    match env_dir::probe(lib, env) {
        Some(Ok(found)) => return Ok(found),
        Some(Err(why)) => {
            let value = env.display(&dir_var).unwrap_or_default();
            attempts.push(attempt(format!("{dir_var}={value}"), why));
            let skipped = format!("skipped ({dir_var} is set, so only that prefix is used)");
            attempts.push(attempt(pc_probe, skipped.clone()));
            if let Some(s) = source {
                attempts.push(attempt(src_probe(s), skipped));
            }
            return Err(Box::new(Failure::new(lib, env, attempts, source)));
        }
        None => attempts.push(attempt(dir_var, "not set")),
    }

    match source {
        Some(s) if s.forced => {
            let feature = lib.vendored_feature.unwrap_or("vendored");
            attempts.push(attempt(
                pc_probe,
                format!("skipped (the `{feature}` feature asks for a source build)"),
            ));
        }
        _ => match pkg_config::probe(lib, env) {
            Ok(found) => return Ok(found),
            Err(why) => attempts.push(attempt(pc_probe, why)),
        },
    }

    if let Some(s) = source {
        let result = (s.run)(env).and_then(|built| {
            let mut found = env_dir::probe_prefix(lib, &built.prefix, env, Method::SourceBuild)
                .map_err(|why| format!("installed into {}, but {why}", built.prefix.display()))?;
            found.rerun_if_changed = built.sources;
            Ok(found)
        });
        match result {
            Ok(found) => return Ok(found),
            Err(why) => attempts.push(attempt(src_probe(s), why)),
        }
    }
    Err(Box::new(Failure::new(lib, env, attempts, source)))
}

#[cfg(test)]
mod tests;
