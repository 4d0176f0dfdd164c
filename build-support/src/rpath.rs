//! rpath for libraries outside the loader's default directories.
//!
//! A -sys crate's `rustc-link-arg` applies only to that crate's own
//! binaries and tests, never to its dependents'. So every crate that links a
//! final binary calls [`rpath_from_deps`] in its build script; the lib
//! directories travel to it as `DEP_<LINKS>_LIB` (set from `cargo::metadata=lib=`).

use crate::env::Env;
use crate::env_dir::multiarch;
use std::env::split_paths;
use std::path::{Path, PathBuf};

/// One line in a downstream build.rs: `build_support::rpath_from_deps(&["ofi", "rofi"]);`
/// Reads `DEP_OFI_LIB`, `DEP_ROFI_LIB` and emits `-Wl,-rpath,<dir>` for each
/// non-system directory. Requires the calling crate to depend on those -sys crates.
pub fn rpath_from_deps(links: &[&str]) {
    let names: Vec<String> = links.iter().map(|l| dep_lib_var(l)).collect();
    let env = Env::from_process(names.iter().map(String::as_str).chain(["TARGET"]));
    for line in rpath_lines(&env, links) {
        println!("{line}");
    }
}

/// The pure part of [`rpath_from_deps`]: the lines it would print.
pub fn rpath_lines(env: &Env, links: &[&str]) -> Vec<String> {
    link_args(&lib_dirs(env, links), &env.target())
}

/// For a crate between the -sys crates and the binaries (with its own `links` key): passes
/// the lib directories of its -sys dependencies on as its own `lib` metadata, so that a
/// dependent's `rpath_from_deps(&[<its links name>])` finds them without depending on the
/// -sys crates itself. (Cargo hands `DEP_*` metadata only to direct dependents.)
pub fn reexport_lib_dirs(links: &[&str]) {
    let names: Vec<String> = links.iter().map(|l| dep_lib_var(l)).collect();
    let env = Env::from_process(names.iter().map(String::as_str));
    println!("{}", reexport_line(&env, links));
}

/// The pure part of [`reexport_lib_dirs`].
pub fn reexport_line(env: &Env, links: &[&str]) -> String {
    let joined = std::env::join_paths(lib_dirs(env, links)).unwrap_or_default();
    format!("cargo::metadata=lib={}", joined.to_string_lossy())
}

/// The directories in `DEP_<LINKS>_LIB` of each of `links`, in order, once each.
fn lib_dirs(env: &Env, links: &[&str]) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    for links_name in links {
        if let Some(value) = env.get(&dep_lib_var(links_name)) {
            for dir in split_paths(value) {
                if !dirs.contains(&dir) {
                    dirs.push(dir);
                }
            }
        }
    }
    dirs
}

/// `-Wl,-rpath,<dir>` lines for every directory the loader would not search by itself.
pub fn link_args(dirs: &[PathBuf], target: &str) -> Vec<String> {
    dirs.iter()
        .filter(|d| !d.as_os_str().is_empty() && !is_system_lib_dir(d, target))
        .map(|d| format!("cargo::rustc-link-arg=-Wl,-rpath,{}", d.display()))
        .collect()
}

/// `DEP_OFI_LIB` for links name `ofi` (Cargo upper-cases and maps `-` to `_`).
pub fn dep_lib_var(links: &str) -> String {
    format!("DEP_{}_LIB", links.to_uppercase().replace('-', "_"))
}

/// The dynamic loader's built-in search directories (adding them to rpath
/// would override LD_LIBRARY_PATH for every library there).
pub fn is_system_lib_dir(dir: &Path, target: &str) -> bool {
    let mut system: Vec<PathBuf> =
        ["/lib", "/lib64", "/usr/lib", "/usr/lib64"].iter().map(PathBuf::from).collect();
    if let Some(triple) = multiarch(target) {
        system.push(Path::new("/lib").join(&triple));
        system.push(Path::new("/usr/lib").join(&triple));
    }
    let dir = dir.components().collect::<PathBuf>(); // drops a trailing '/'
    system.contains(&dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "x86_64-unknown-linux-gnu";

    #[test]
    fn skips_system_dirs_and_duplicates() {
        let env = Env::new()
            .with("TARGET", T)
            .with("DEP_OFI_LIB", "/opt/ofi/lib:/usr/lib/x86_64-linux-gnu")
            .with("DEP_ROFI_LIB", "/out/install/lib:/opt/ofi/lib")
            .with("DEP_LAMELLAR_UCX_LIB", "/usr/lib64/");
        assert_eq!(
            rpath_lines(&env, &["ofi", "rofi", "lamellar-ucx", "missing"]),
            [
                "cargo::rustc-link-arg=-Wl,-rpath,/opt/ofi/lib",
                "cargo::rustc-link-arg=-Wl,-rpath,/out/install/lib",
            ]
        );
    }

    #[test]
    fn reexport_joins_the_lib_dirs_of_every_dependency_once() {
        let env = Env::new()
            .with("DEP_ROFI_LIB", "/out/lib:/opt/ofi/lib")
            .with("DEP_UCX_LIB", "/opt/ofi/lib:/opt/ucx/lib");
        assert_eq!(
            reexport_line(&env, &["rofi", "ucx", "missing"]),
            "cargo::metadata=lib=/out/lib:/opt/ofi/lib:/opt/ucx/lib"
        );
        assert_eq!(reexport_line(&Env::new(), &[]), "cargo::metadata=lib=");
    }

    #[test]
    fn system_dirs() {
        assert!(is_system_lib_dir(Path::new("/usr/lib/x86_64-linux-gnu/"), T));
        assert!(is_system_lib_dir(Path::new("/lib64"), T));
        assert!(!is_system_lib_dir(Path::new("/usr/local/lib"), T));
        assert!(!is_system_lib_dir(Path::new("/usr/lib/aarch64-linux-gnu"), T));
    }
}
