//! Probe 1: `<PREFIX>_DIR`, an install prefix the user chose. When set it is
//! the only probe: an explicit choice that fails must not silently fall back.

use crate::env::Env;
use crate::found::{Found, Method};
use crate::header;
use crate::library::Library;
use std::path::{Path, PathBuf};

/// `None` when the variable is unset; otherwise the result of probing its prefix.
pub fn probe(lib: &Library, env: &Env) -> Option<Result<Found, String>> {
    let prefix = env.path(&lib.dir_var())?;
    Some(probe_prefix(lib, &prefix, env, Method::EnvDir))
}

/// Checks an install prefix: each library file under lib, lib64 or
/// lib/<multiarch>, the header under include, and the header's version.
/// Also used on the output of a source build.
pub fn probe_prefix(
    lib: &Library,
    prefix: &Path,
    env: &Env,
    method: Method,
) -> Result<Found, String> {
    if !prefix.is_dir() {
        return Err(format!("{} is not a directory", prefix.display()));
    }
    let candidates = lib_dir_candidates(prefix, &env.target());
    let mut lib_dirs: Vec<PathBuf> = Vec::new();
    let mut libs = Vec::new();
    for name in lib.libs {
        let Some((dir, kind)) = candidates.iter().find_map(|d| lib_kind(d, name).map(|k| (d, k)))
        else {
            let list: Vec<String> = candidates.iter().map(|d| d.display().to_string()).collect();
            return Err(format!("no lib{name}.so or lib{name}.a in {}", list.join(", ")));
        };
        if !lib_dirs.contains(dir) {
            lib_dirs.push(dir.clone());
        }
        libs.push(format!("{kind}{name}"));
    }
    let include = prefix.join("include");
    let header = include.join(lib.header);
    if !header.is_file() {
        let first = lib_dirs[0].join(format!("lib{}", lib.libs[0]));
        return Err(format!("found {}.* but no {}", first.display(), header.display()));
    }
    let version = header::probe_version(lib, std::slice::from_ref(&include), env)?;
    if version < lib.min_version {
        return Err(format!(
            "found {version} (in {}), need >= {}",
            header.display(),
            lib.min_version
        ));
    }
    Ok(Found {
        method,
        root: prefix.to_path_buf(),
        lib_dirs,
        include_dirs: vec![include],
        libs,
        version,
        rerun_if_changed: Vec::new(),
    })
}

/// `""` (dynamic) or `"static="` for the first form of `lib<name>` present in `dir`.
fn lib_kind(dir: &Path, name: &str) -> Option<&'static str> {
    let has = |ext: &str| dir.join(format!("lib{name}.{ext}")).is_file();
    if has("so") || has("dylib") {
        Some("")
    } else if has("a") {
        Some("static=")
    } else {
        None
    }
}

/// prefix/lib, prefix/lib64 and, on Debian-style systems, prefix/lib/<multiarch>.
pub fn lib_dir_candidates(prefix: &Path, target: &str) -> Vec<PathBuf> {
    let mut dirs = vec![prefix.join("lib"), prefix.join("lib64")];
    if let Some(triple) = multiarch(target) {
        dirs.push(prefix.join("lib").join(triple));
    }
    dirs
}

/// Debian's multiarch directory name for a Rust target triple
/// (`x86_64-unknown-linux-gnu` -> `x86_64-linux-gnu`).
pub fn multiarch(target: &str) -> Option<String> {
    let parts: Vec<&str> = target.split('-').collect();
    let (arch, rest) = parts.split_first()?;
    let env = rest.last()?;
    if !rest.contains(&"linux") || !env.starts_with("gnu") {
        return None;
    }
    let arch = match *arch {
        "i586" | "i686" => "i386",
        "armv7" | "arm" => "arm",
        "powerpc64le" => "powerpc64le",
        other => other,
    };
    Some(format!("{arch}-linux-{env}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::library::Version;
    use crate::testutil::{FAKE, FakePrefix};

    fn probe_with(p: &FakePrefix, dir: &Path) -> Option<Result<Found, String>> {
        probe(&FAKE, &p.env().with("FOO_DIR", dir))
    }

    #[test]
    fn unset_is_not_tried() {
        let p = FakePrefix::new("lib", 1, 2);
        assert_eq!(probe(&FAKE, &p.env()), None);
    }

    #[test]
    fn finds_lib_lib64_and_multiarch() {
        for libdir in ["lib", "lib64", "lib/x86_64-linux-gnu"] {
            let p = FakePrefix::new(libdir, 1, 4);
            let found = probe_with(&p, &p.prefix()).unwrap().unwrap();
            assert_eq!(found.lib_dirs, [p.prefix().join(libdir)]);
            assert_eq!(found.include_dirs, [p.include()]);
            assert_eq!(found.root, p.prefix());
            assert_eq!(found.libs, ["foo"]);
            assert_eq!(found.version, Version::new(1, 4, 0));
            assert_eq!(found.method, Method::EnvDir);
        }
    }

    #[test]
    fn static_only_links_static() {
        let p = FakePrefix::new("lib", 1, 2);
        std::fs::rename(p.prefix().join("lib/libfoo.so"), p.prefix().join("lib/libfoo.a")).unwrap();
        assert_eq!(probe_with(&p, &p.prefix()).unwrap().unwrap().libs, ["static=foo"]);
    }

    #[test]
    fn missing_prefix() {
        let p = FakePrefix::new("lib", 1, 2);
        let nowhere = p.tmp.path().join("nowhere");
        let err = probe_with(&p, &nowhere).unwrap().unwrap_err();
        assert_eq!(err, format!("{} is not a directory", nowhere.display()));
    }

    #[test]
    fn missing_library_lists_every_directory() {
        let p = FakePrefix::new("share", 1, 2);
        let x = p.prefix();
        let err = probe_with(&p, &x).unwrap().unwrap_err();
        let x = x.display();
        assert_eq!(
            err,
            format!("no libfoo.so or libfoo.a in {x}/lib, {x}/lib64, {x}/lib/x86_64-linux-gnu")
        );
    }

    #[test]
    fn missing_header() {
        let p = FakePrefix::new("lib64", 1, 2);
        std::fs::remove_file(p.include().join("foo.h")).unwrap();
        let err = probe_with(&p, &p.prefix()).unwrap().unwrap_err();
        let x = p.prefix();
        assert_eq!(
            err,
            format!("found {}/lib64/libfoo.* but no {}/include/foo.h", x.display(), x.display())
        );
    }

    #[test]
    fn too_old() {
        let p = FakePrefix::new("lib", 1, 1);
        let err = probe_with(&p, &p.prefix()).unwrap().unwrap_err();
        assert_eq!(err, format!("found 1.1 (in {}/foo.h), need >= 1.2", p.include().display()));
    }

    #[test]
    fn multiarch_names() {
        assert_eq!(multiarch("x86_64-unknown-linux-gnu").as_deref(), Some("x86_64-linux-gnu"));
        assert_eq!(multiarch("aarch64-unknown-linux-gnu").as_deref(), Some("aarch64-linux-gnu"));
        assert_eq!(multiarch("i686-unknown-linux-gnu").as_deref(), Some("i386-linux-gnu"));
        assert_eq!(
            multiarch("armv7-unknown-linux-gnueabihf").as_deref(),
            Some("arm-linux-gnueabihf")
        );
        assert_eq!(multiarch("x86_64-unknown-linux-musl"), None);
        assert_eq!(multiarch("aarch64-apple-darwin"), None);
    }
}
