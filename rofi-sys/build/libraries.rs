//! The two native libraries rofi-sys needs, described for build-support, and how to build
//! each from source.

use build_support::source_build::{Source, autotools, locate};
use build_support::{Built, Env, Library, Packages, SourceBuild, Version};
use std::path::{Path, PathBuf};

pub const OFI: Library = Library {
    name: "libfabric",
    env_prefix: "OFI",
    pkg_config: "libfabric",
    // fi_*atomicvalid on endpoints and FI_MR_ENDPOINT semantics ROFI relies on.
    min_version: Version::new(1, 13, 0),
    libs: &["fabric"],
    header: "rdma/fabric.h",
    version_macros: ("FI_MAJOR_VERSION", "FI_MINOR_VERSION"),
    packages: Packages { debian: "libfabric-dev", rhel: "libfabric-devel" },
    vendored_feature: Some("vendored"),
};

pub const ROFI: Library = Library {
    name: "ROFI",
    env_prefix: "ROFI",
    pkg_config: "rofi",
    // 0.2: the trusted entries (rofi_target, rofi_*_at) and rofi_send_nb / rofi_recv_nb.
    min_version: Version::new(0, 2, 0),
    libs: &["rofi"],
    header: "rofi.h",
    version_macros: ("ROFI_VERSION_MAJOR", "ROFI_VERSION_MINOR"),
    packages: Packages {
        debian: "(none: unset ROFI_DIR to build the bundled ROFI)",
        rhel: "(none)",
    },
    vendored_feature: None,
};

/// The environment variable naming a libfabric source tree for the vendored build.
pub const LIBFABRIC_SRC: &str = "LIBFABRIC_SRC";

/// The libfabric sources (git tree, no generated `configure`) that the lamellar-libfabric-src
/// crate ships; only a dependency with the `vendored` feature.
fn crate_source() -> Option<PathBuf> {
    #[cfg(feature = "vendored")]
    return Some(libfabric_src::source_dir());
    #[cfg(not(feature = "vendored"))]
    return None;
}

/// libfabric from source, with the providers ROFI is tested on (tcp, shm, rxm). The source is
/// the tree in LIBFABRIC_SRC (or OFI_SRC), else the last vendor/libfabric-*.tar.*, else the
/// lamellar-libfabric-src crate's.
pub fn ofi_source_build(vendor: PathBuf, forced: bool) -> SourceBuild<'static> {
    let tarballs = format!("{}/libfabric-*.tar.*", vendor.display());
    SourceBuild {
        what: format!("{LIBFABRIC_SRC}, {tarballs} or the lamellar-libfabric-src crate's sources"),
        hint: format!(
            "set {LIBFABRIC_SRC} to a libfabric source tree or put a release tarball libfabric-<version>.tar.bz2 in {} (the `vendored` feature builds from those, else from the lamellar-libfabric-src crate's sources)",
            vendor.display()
        ),
        forced,
        run: Box::new(move |env: &Env| {
            if !forced {
                return Err("the `vendored` feature is off".into());
            }
            let source = match std::env::var_os(LIBFABRIC_SRC) {
                Some(dir) => Source::Dir(PathBuf::from(dir)),
                None => match (locate(&OFI, env, &vendor, "libfabric"), crate_source()) {
                    (Ok(source), _) => source,
                    // No tarball; a bad OFI_SRC stays an error.
                    (Err(_), Some(dir)) if env.get(&OFI.src_var()).is_none() => Source::Dir(dir),
                    (Err(e), _) => return Err(format!("{LIBFABRIC_SRC} unset, {e}")),
                },
            };
            // `--enable-only` (libfabric >= 1.12) builds just the providers enabled here; the
            // explicit --disable-* do the same for releases without it. Left to "auto", a
            // provider picks up whatever SDK the host happens to have (UCX, PSM, CXI, ...) and
            // can break the build (seen: the old `mlx` provider against a newer UCX).
            // Unknown options only make configure warn, so one list serves every release
            // (1.22 also builds sm2 whatever --disable-sm2 says: its check reads enable_shm).
            let args: Vec<String> = [
                "--enable-only",
                "--enable-tcp=yes",
                "--enable-shm=yes",
                "--enable-rxm=yes",
                "--enable-verbs=auto",
                "--disable-psm",
                "--disable-psm2",
                "--disable-psm3",
                "--disable-usnic",
                "--disable-efa",
                "--disable-opx",
                "--disable-ucx",
                "--disable-mlx",
                "--disable-cxi",
                "--disable-gni",
                "--disable-bgq",
                "--disable-sockets",
                "--disable-udp",
                "--disable-rxd",
                "--disable-mrail",
                "--disable-sm2",
                "--disable-lpp",
                "--disable-dependency-tracking",
            ]
            .map(String::from)
            .into();
            let prefix = autotools(&source, &env.out_dir().join("libfabric"), &args, env)?;
            Ok(Built { prefix, sources: vec![source.path().to_path_buf()] })
        }),
    }
}

/// The bundled ROFI (`rofi/` beside this crate, or inside the packaged crate), configured
/// out of tree against the libfabric prefix found first.
pub fn rofi_source_build<'a>(rofi_src: &'a Path, ofi_root: &'a Path) -> SourceBuild<'a> {
    SourceBuild {
        what: format!("bundled ROFI in {} (autotools)", rofi_src.display()),
        hint: "install autoconf, automake and libtool (Debian: autoconf automake libtool; RHEL: autoconf automake libtool)".into(),
        forced: false,
        run: Box::new(move |env: &Env| {
            // Static: nothing to find at run time; -fPIC (from build-support) keeps it linkable anywhere.
            let args = vec![format!("--with-ofi={}", ofi_root.display()), "--disable-shared".into(), "--enable-static".into()];
            let prefix = autotools(&Source::Dir(rofi_src.to_path_buf()), &env.out_dir().join("rofi"), &args, env)?;
            Ok(Built { prefix, sources: vec![rofi_src.join("src"), rofi_src.join("include"), rofi_src.join("configure.ac"), rofi_src.join("Makefile.am")] })
        }),
    }
}
