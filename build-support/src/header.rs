//! Header probe: preprocess a two-line C file against the candidate include
//! directories and read the version macros the compiler sees. This checks the
//! headers a build will actually use, not a `.pc` file that may be stale.

use crate::env::Env;
use crate::library::{Library, Version};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

const MARKER: &str = "build_support_version";

/// The header's version, or why it could not be read.
pub fn probe_version(
    lib: &Library,
    include_dirs: &[PathBuf],
    env: &Env,
) -> Result<Version, String> {
    let (major, minor) = lib.version_macros;
    let source = format!("#include <{}>\n{MARKER} {major} {minor}\n", lib.header);
    let file = scratch_file(lib, env)?;
    std::fs::write(&file, source).map_err(|e| format!("cannot write {}: {e}", file.display()))?;

    let mut cmd = compiler(env)?;
    cmd.arg("-E").arg("-P");
    for dir in include_dirs {
        cmd.arg("-I").arg(dir);
    }
    let out = cmd.arg(&file).output().map_err(|e| format!("cannot run the C compiler: {e}"))?;
    let _ = std::fs::remove_file(&file);
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let first = stderr.lines().find(|l| l.contains("error")).unwrap_or("").trim();
        return Err(format!("{} does not preprocess: {first}", lib.header));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().rev().find(|l| l.trim_start().starts_with(MARKER)).unwrap_or("");
    let mut words = line.split_whitespace().skip(1);
    let number = |w: Option<&str>, name: &str| -> Result<u32, String> {
        let w = w.unwrap_or("").trim_matches(|c| c == '(' || c == ')').trim_end_matches(['U', 'u']);
        w.parse().map_err(|_| format!("{} does not define {name} as a number", lib.header))
    };
    let major = number(words.next(), major)?;
    let minor = number(words.next(), minor)?;
    Ok(Version::new(major, minor, 0))
}

/// The target's C compiler as `cc` would pick it (honours CC, CFLAGS, CC_<target>).
fn compiler(env: &Env) -> Result<Command, String> {
    let tool = cc::Build::new()
        .target(&env.target())
        .host(&env.host())
        .opt_level(0)
        .debug(false)
        .cargo_metadata(false)
        .cargo_warnings(false)
        .warnings(false)
        .out_dir(env.out_dir())
        .try_get_compiler()
        .map_err(|e| format!("no usable C compiler: {e}"))?;
    Ok(tool.to_command())
}

/// A unique file name: several probes (and test threads) may share OUT_DIR.
fn scratch_file(lib: &Library, env: &Env) -> Result<PathBuf, String> {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let dir = env.out_dir().join("build-support-probes");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    Ok(dir.join(format!("{}-{}-{n}.c", lib.pkg_config, std::process::id())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{FAKE, FakePrefix};

    #[test]
    fn reads_macros_from_the_found_header() {
        let p = FakePrefix::new("lib", 2, 7);
        assert_eq!(probe_version(&FAKE, &[p.include()], &p.env()), Ok(Version::new(2, 7, 0)));
    }

    #[test]
    fn missing_header_is_reported() {
        let p = FakePrefix::new("lib", 1, 0);
        std::fs::remove_file(p.include().join("foo.h")).unwrap();
        let err = probe_version(&FAKE, &[p.include()], &p.env()).unwrap_err();
        assert!(err.starts_with("foo.h does not preprocess: "), "{err}");
        assert!(err.contains("foo.h"), "{err}");
    }

    #[test]
    fn undefined_macro_is_reported() {
        let p = FakePrefix::new("lib", 1, 0);
        std::fs::write(p.include().join("foo.h"), "#define FOO_MAJOR 1\n").unwrap();
        let err = probe_version(&FAKE, &[p.include()], &p.env()).unwrap_err();
        assert_eq!(err, "foo.h does not define FOO_MINOR as a number");
    }
}
