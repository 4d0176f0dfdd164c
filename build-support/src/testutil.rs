//! Fake install prefixes and `.pc` files for the probe tests.

use crate::env::Env;
use crate::library::{Library, Packages, Version};
use std::path::{Path, PathBuf};
use tempfile::TempDir;

pub const FAKE: Library = Library {
    name: "Foo",
    env_prefix: "FOO",
    pkg_config: "foo",
    min_version: Version::new(1, 2, 0),
    libs: &["foo"],
    header: "foo.h",
    version_macros: ("FOO_MAJOR", "FOO_MINOR"),
    packages: Packages { debian: "libfoo-dev", rhel: "foo-devel" },
    vendored_feature: Some("vendored"),
};

/// `<tmp>/prefix/{<libdir>/libfoo.so, include/foo.h}` with a chosen version,
/// and `<tmp>/out` as OUT_DIR.
pub struct FakePrefix {
    pub tmp: TempDir,
}

impl FakePrefix {
    pub fn new(libdir: &str, major: u32, minor: u32) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let p = FakePrefix { tmp };
        std::fs::create_dir_all(p.prefix().join(libdir)).unwrap();
        std::fs::write(p.prefix().join(libdir).join("libfoo.so"), b"").unwrap();
        std::fs::create_dir_all(p.include()).unwrap();
        std::fs::write(
            p.include().join("foo.h"),
            format!("#define FOO_MAJOR {major}\n#define FOO_MINOR ({minor})\n"),
        )
        .unwrap();
        std::fs::create_dir_all(p.tmp.path().join("out")).unwrap();
        p
    }

    pub fn prefix(&self) -> PathBuf {
        self.tmp.path().join("prefix")
    }

    pub fn include(&self) -> PathBuf {
        self.prefix().join("include")
    }

    /// An environment with only OUT_DIR and TARGET set.
    pub fn env(&self) -> Env {
        Env::new()
            .with("OUT_DIR", self.tmp.path().join("out"))
            .with("TARGET", "x86_64-unknown-linux-gnu")
            .with("HOST", "x86_64-unknown-linux-gnu")
            .with("CARGO_PKG_NAME", "foo-sys")
            .with("CARGO_PKG_VERSION", "0.1.0")
    }

    /// Writes `<tmp>/pc/foo.pc` describing this prefix with `version`, returns its dir.
    pub fn write_pc(&self, version: &str) -> PathBuf {
        write_pc(&self.tmp.path().join("pc"), &self.prefix(), version)
    }
}

pub fn write_pc(dir: &Path, prefix: &Path, version: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let pc = format!(
        "prefix={}\nlibdir=${{prefix}}/lib\nincludedir=${{prefix}}/include\n\n\
         Name: foo\nDescription: fake\nVersion: {version}\n\
         Libs: -L${{libdir}} -lfoo\nCflags: -I${{includedir}}\n",
        prefix.display()
    );
    std::fs::write(dir.join("foo.pc"), pc).unwrap();
    dir.to_path_buf()
}
