//! What UCX is, for build-support, and how to build it from a source tarball.

use build_support::source_build::{autotools, locate};
use build_support::{Built, Library, Packages, SourceBuild, Version};
use std::path::PathBuf;

pub const UCX: Library = Library {
    name: "UCX",
    env_prefix: "UCX",
    pkg_config: "ucx",
    // The *_nbx calls with ucp_request_param_t are complete from 1.12 on.
    min_version: Version::new(1, 12, 0),
    libs: &["ucp", "uct", "ucs"],
    header: "ucp/api/ucp.h",
    version_macros: ("UCP_API_MAJOR", "UCP_API_MINOR"),
    packages: Packages { debian: "libucx-dev", rhel: "ucx-devel" },
    vendored_feature: None,
};

/// Last resort: a release tarball in the workspace's vendor/ (or a tree in
/// UCX_SRC), configured like UCX's own release build.
pub fn source_build(vendor: PathBuf) -> SourceBuild<'static> {
    SourceBuild {
        what: format!("{}/ucx-*.tar.gz or UCX_SRC", vendor.display()),
        hint: format!(
            "put a UCX release ucx-<version>.tar.gz in {} or set UCX_SRC to a UCX source tree",
            vendor.display()
        ),
        forced: false,
        run: Box::new(move |env| {
            let source = locate(&UCX, env, &vendor, "ucx")?;
            let args: Vec<String> = [
                "--enable-mt",
                "--disable-logging",
                "--disable-debug",
                "--disable-assertions",
                "--disable-params-check",
                "--disable-doxygen-doc",
                "--without-java",
                "--without-go",
            ]
            .map(String::from)
            .into();
            let prefix = autotools(&source, &env.out_dir().join("ucx"), &args, env)?;
            Ok(Built { prefix, sources: vec![source.path().to_path_buf()] })
        }),
    }
}
