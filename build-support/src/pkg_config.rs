//! Probe 2: pkg-config. We run the `pkg-config` program with exactly the
//! search variables from [`Env`] (and none inherited), so the result does not
//! depend on which thread or process asked.

use crate::env::Env;
use crate::found::{Found, Method};
use crate::header;
use crate::library::{Library, Version};
use std::path::PathBuf;
use std::process::Command;

/// Variables that steer pkg-config; all are read, so all trigger a re-run.
pub const VARS: &[&str] =
    &["PKG_CONFIG", "PKG_CONFIG_PATH", "PKG_CONFIG_LIBDIR", "PKG_CONFIG_SYSROOT_DIR"];

pub fn probe(lib: &Library, env: &Env) -> Result<Found, String> {
    let module = lib.pkg_config;
    let text = query(env, &["--modversion", module]).map_err(|e| e.describe(env))?;
    let pc_version = Version::parse(&text).ok_or_else(|| format!("unparsable version {text:?}"))?;
    if pc_version < lib.min_version {
        return Err(format!("found {}, need >= {}", text.trim(), lib.min_version));
    }
    let flags = |args: &[&str]| query(env, args).map_err(|e| e.describe(env));
    let var =
        |name: &str| flags(&[&format!("--variable={name}"), module]).map(|v| v.trim().to_string());

    let mut include_dirs = stripped(&flags(&["--cflags-only-I", module])?, "-I");
    let mut lib_dirs = stripped(&flags(&["--libs-only-L", module])?, "-L");
    let libs: Vec<String> = stripped(&flags(&["--libs-only-l", module])?, "-l")
        .into_iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    // pkg-config drops system directories from flags; the variables still
    // name them, and dependents want them in DEP_*_INCLUDE / DEP_*_LIB.
    push_unique(&mut include_dirs, var("includedir")?);
    push_unique(&mut lib_dirs, var("libdir")?);
    let root = match var("prefix")? {
        p if !p.is_empty() => PathBuf::from(p),
        _ => include_dirs.first().and_then(|d| d.parent()).map(PathBuf::from).unwrap_or_default(),
    };

    let version = header::probe_version(lib, &include_dirs, env)
        .map_err(|e| format!("found {} but {e}", text.trim()))?;
    if version < lib.min_version {
        return Err(format!(
            "found {} but its header {} says {version}, need >= {}",
            text.trim(),
            lib.header,
            lib.min_version
        ));
    }
    Ok(Found {
        method: Method::PkgConfig,
        root,
        lib_dirs,
        include_dirs,
        libs,
        version,
        rerun_if_changed: Vec::new(),
    })
}

enum QueryError {
    NoProgram(String),
    NotFound,
    Failed(String),
}

impl QueryError {
    fn describe(&self, env: &Env) -> String {
        match self {
            QueryError::NoProgram(p) => {
                format!("cannot run `{p}` (install pkg-config or set PKG_CONFIG)")
            }
            QueryError::NotFound => format!("not found ({})", search_path(env)),
            QueryError::Failed(line) => format!("failed: {line}"),
        }
    }
}

/// `PKG_CONFIG_PATH=/a:/b` (and LIBDIR / SYSROOT when set): where it looked.
pub fn search_path(env: &Env) -> String {
    let shown: Vec<String> = VARS[1..]
        .iter()
        .filter_map(|v| env.display(v).map(|value| format!("{v}={value}")))
        .collect();
    if shown.is_empty() { "PKG_CONFIG_PATH unset".to_string() } else { shown.join(", ") }
}

fn query(env: &Env, args: &[&str]) -> Result<String, QueryError> {
    let program = env.display("PKG_CONFIG").unwrap_or_else(|| "pkg-config".to_string());
    let mut cmd = Command::new(&program);
    for var in &VARS[1..] {
        match env.get(var) {
            Some(value) => cmd.env(var, value),
            None => cmd.env_remove(var),
        };
    }
    let out = cmd.args(args).output().map_err(|_| QueryError::NoProgram(program.clone()))?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let first = stderr.lines().next().unwrap_or("").trim().to_string();
    if first.contains("was not found") {
        Err(QueryError::NotFound)
    } else {
        Err(QueryError::Failed(first))
    }
}

/// `-I/a -I/b` -> [/a, /b].
fn stripped(flags: &str, prefix: &str) -> Vec<PathBuf> {
    flags.split_whitespace().filter_map(|f| f.strip_prefix(prefix)).map(PathBuf::from).collect()
}

fn push_unique(dirs: &mut Vec<PathBuf>, dir: String) {
    let dir = PathBuf::from(dir);
    if !dir.as_os_str().is_empty() && !dirs.contains(&dir) {
        dirs.push(dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{FAKE, FakePrefix};

    /// PKG_CONFIG_LIBDIR replaces the default search path: the host's own .pc files are invisible.
    fn env_for(p: &FakePrefix, pc_dir: &std::path::Path) -> Env {
        p.env().with("PKG_CONFIG_LIBDIR", pc_dir)
    }

    #[test]
    fn finds_a_pc_file_and_checks_the_header() {
        let p = FakePrefix::new("lib", 1, 3);
        let pc = p.write_pc("1.3.7");
        let found = probe(&FAKE, &env_for(&p, &pc)).unwrap();
        assert_eq!(found.method, Method::PkgConfig);
        assert_eq!(found.root, p.prefix());
        assert_eq!(found.lib_dirs, [p.prefix().join("lib")]);
        assert_eq!(found.include_dirs, [p.include()]);
        assert_eq!(found.libs, ["foo"]);
        assert_eq!(found.version, Version::new(1, 3, 0));
    }

    #[test]
    fn honours_pkg_config_path() {
        let p = FakePrefix::new("lib", 1, 3);
        let pc = p.write_pc("1.3");
        let empty = p.tmp.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        let env = p.env().with("PKG_CONFIG_LIBDIR", &empty).with("PKG_CONFIG_PATH", &pc);
        assert!(probe(&FAKE, &env).is_ok());
    }

    #[test]
    fn not_found_names_the_search_path() {
        let p = FakePrefix::new("lib", 1, 3);
        let empty = p.tmp.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        let err = probe(&FAKE, &env_for(&p, &empty)).unwrap_err();
        assert_eq!(err, format!("not found (PKG_CONFIG_LIBDIR={})", empty.display()));
    }

    #[test]
    fn too_old_pc_version() {
        let p = FakePrefix::new("lib", 1, 3);
        let pc = p.write_pc("1.1.0");
        assert_eq!(probe(&FAKE, &env_for(&p, &pc)).unwrap_err(), "found 1.1.0, need >= 1.2");
    }

    #[test]
    fn stale_pc_file_is_caught_by_the_header() {
        let p = FakePrefix::new("lib", 1, 0);
        let pc = p.write_pc("1.5");
        assert_eq!(
            probe(&FAKE, &env_for(&p, &pc)).unwrap_err(),
            "found 1.5 but its header foo.h says 1.0, need >= 1.2"
        );
    }

    #[test]
    fn missing_program() {
        let p = FakePrefix::new("lib", 1, 3);
        let env = p.env().with("PKG_CONFIG", "/nonexistent/pkg-config");
        assert_eq!(
            probe(&FAKE, &env).unwrap_err(),
            "cannot run `/nonexistent/pkg-config` (install pkg-config or set PKG_CONFIG)"
        );
    }

    #[test]
    fn search_path_text() {
        assert_eq!(search_path(&Env::new()), "PKG_CONFIG_PATH unset");
        let env = Env::new().with("PKG_CONFIG_PATH", "/a:/b").with("PKG_CONFIG_SYSROOT_DIR", "/s");
        assert_eq!(search_path(&env), "PKG_CONFIG_PATH=/a:/b, PKG_CONFIG_SYSROOT_DIR=/s");
    }
}
