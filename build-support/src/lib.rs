//! Locate, build and diagnose the native libraries behind lamellar's -sys
//! crates. A build-dependency only.
//!
//! Every library is found the same way, described by a [`Library`] value:
//!
//! 1. `<PREFIX>_DIR`: an install prefix (lib, lib64 or lib/<multiarch>, and
//!    include). When set it is the only probe used.
//! 2. pkg-config (honours `PKG_CONFIG_PATH`, `PKG_CONFIG_LIBDIR`, `PKG_CONFIG`).
//! 3. A source build the -sys crate supplies ([`SourceBuild`]), e.g. the
//!    in-tree ROFI or a tarball in `vendor/`, with [`source_build::autotools`].
//! 4. Otherwise a [`Failure`] listing every probe and the fixes.
//!
//! Versions are read from the headers the build will use. A hit publishes
//! `DEP_<LINKS>_ROOT`, `_LIB`, `_INCLUDE`, `_VERSION`; crates that link final
//! binaries call [`rpath_from_deps`].
//!
//! ```no_run
//! // build.rs of a -sys crate with `links = "ucx"`
//! use build_support::{Library, Packages, Version};
//! const UCX: Library = Library {
//!     name: "UCX",
//!     env_prefix: "UCX",
//!     pkg_config: "ucx",
//!     min_version: Version::new(1, 12, 0),
//!     libs: &["ucp", "uct", "ucs"],
//!     header: "ucp/api/ucp.h",
//!     version_macros: ("UCP_API_MAJOR", "UCP_API_MINOR"),
//!     packages: Packages { debian: "libucx-dev", rhel: "ucx-devel" },
//!     vendored_feature: None,
//! };
//! let found = build_support::find(&UCX, None);
//! // found.include_dirs feed bindgen and cc.
//! ```

pub mod chain;
pub mod env;
pub mod env_dir;
pub mod found;
pub mod header;
pub mod library;
pub mod message;
pub mod pkg_config;
pub mod rpath;
pub mod source_build;
#[cfg(test)]
mod testutil;

pub use chain::Attempt;
pub use env::Env;
pub use found::{Found, Method};
pub use library::{Library, Packages, Version};
pub use message::Failure;
pub use rpath::{reexport_lib_dirs, rpath_from_deps};
pub use source_build::{Built, Recipe, Source, SourceBuild};

/// The build-script entry point: reads the variables the chain needs (and
/// only those), emits `rerun-if-env-changed` for each, runs the chain and
/// prints the Cargo lines. On failure prints the message and exits 1, so the
/// user sees the message rather than a panic backtrace.
pub fn find(lib: &Library, source: Option<&SourceBuild<'_>>) -> Found {
    find_as(lib, source, "")
}

/// [`find`] with the links metadata keys prefixed by `key_prefix`, for a crate
/// that finds a second library (see [`Found::cargo_lines_as`]). Downstream:
/// `rpath_from_deps(&["rofi", "rofi_ofi"])` reads `DEP_ROFI_LIB` and `DEP_ROFI_OFI_LIB`.
pub fn find_as(lib: &Library, source: Option<&SourceBuild<'_>>, key_prefix: &str) -> Found {
    let env = capture_env(lib);
    match chain::run(lib, &env, source) {
        Ok(found) => {
            for line in found.cargo_lines_as(&env.target(), key_prefix) {
                println!("{line}");
            }
            found
        }
        Err(failure) => {
            eprintln!("\n{failure}\n");
            std::process::exit(1);
        }
    }
}

/// The environment a build script's probes see, with `rerun-if-env-changed`
/// emitted for every user variable in it. Also for recipes that need the
/// same snapshot (e.g. to read `NUM_JOBS`).
pub fn capture_env(lib: &Library) -> Env {
    let user = lib.env_vars();
    for name in &user {
        println!("cargo::rerun-if-env-changed={name}");
    }
    Env::from_process(user.iter().map(String::as_str).chain(env::CARGO_VARS.iter().copied()))
}
