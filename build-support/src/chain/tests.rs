use super::*;
use crate::source_build::Built;
use crate::testutil::{FAKE, FakePrefix};
use std::path::{Path, PathBuf};

/// An environment where pkg-config sees only `pc_dir`.
fn env(p: &FakePrefix, pc_dir: &Path) -> Env {
    p.env().with("PKG_CONFIG_LIBDIR", pc_dir)
}

fn empty_dir(p: &FakePrefix) -> PathBuf {
    let d = p.tmp.path().join("empty");
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn from_prefix(prefix: PathBuf, forced: bool) -> SourceBuild<'static> {
    SourceBuild {
        what: "vendor/foo-*.tar.gz or FOO_SRC".into(),
        hint: "put foo-<version>.tar.gz in vendor/ or set FOO_SRC to a source tree".into(),
        forced,
        run: Box::new(move |_| {
            Ok(Built { prefix: prefix.clone(), sources: vec!["/src/foo".into()] })
        }),
    }
}

fn failing() -> SourceBuild<'static> {
    SourceBuild {
        what: "vendor/foo-*.tar.gz or FOO_SRC".into(),
        hint: "put foo-<version>.tar.gz in vendor/ or set FOO_SRC to a source tree".into(),
        forced: false,
        run: Box::new(|_| Err("FOO_SRC unset and no foo-*.tar.gz in /w/vendor".into())),
    }
}

#[test]
fn env_dir_wins() {
    let p = FakePrefix::new("lib", 1, 2);
    let pc = p.write_pc("1.2");
    let found = run(&FAKE, &env(&p, &pc).with("FOO_DIR", p.prefix()), None).unwrap();
    assert_eq!(found.method, Method::EnvDir);
}

#[test]
fn then_pkg_config() {
    let p = FakePrefix::new("lib", 1, 2);
    let pc = p.write_pc("1.2");
    let src = from_prefix(p.prefix(), false);
    assert_eq!(run(&FAKE, &env(&p, &pc), Some(&src)).unwrap().method, Method::PkgConfig);
}

#[test]
fn then_source_build_which_is_checked_like_a_prefix() {
    let p = FakePrefix::new("lib", 1, 2);
    let empty = empty_dir(&p);
    let found = run(&FAKE, &env(&p, &empty), Some(&from_prefix(p.prefix(), false))).unwrap();
    assert_eq!(found.method, Method::SourceBuild);
    assert_eq!(found.root, p.prefix());
    assert_eq!(found.rerun_if_changed, [PathBuf::from("/src/foo")]);
}

#[test]
fn vendored_feature_skips_pkg_config() {
    let p = FakePrefix::new("lib", 1, 2);
    let pc = p.write_pc("1.2");
    let found = run(&FAKE, &env(&p, &pc), Some(&from_prefix(p.prefix(), true))).unwrap();
    assert_eq!(found.method, Method::SourceBuild);
}

#[test]
fn bad_source_build_output_is_reported() {
    let p = FakePrefix::new("lib", 1, 0);
    let empty = empty_dir(&p);
    let err = run(&FAKE, &env(&p, &empty), Some(&from_prefix(p.prefix(), false))).unwrap_err();
    assert_eq!(
        err.attempts[2].result,
        format!(
            "installed into {}, but found 1.0 (in {}/foo.h), need >= 1.2",
            p.prefix().display(),
            p.include().display()
        )
    );
}

#[test]
fn failure_message_when_nothing_is_found() {
    let p = FakePrefix::new("lib", 1, 2);
    let empty = empty_dir(&p);
    let err = run(&FAKE, &env(&p, &empty), Some(&failing())).unwrap_err();
    let expected = format!(
        "\
could not find Foo >= 1.2, needed by foo-sys 0.1.0

Probes tried, in order:
  1. FOO_DIR: not set
  2. pkg-config foo: not found (PKG_CONFIG_LIBDIR={})
  3. source build, vendor/foo-*.tar.gz or FOO_SRC: FOO_SRC unset and no foo-*.tar.gz in /w/vendor

To fix, do one of:
  - install the development package:
      Debian/Ubuntu:  apt-get install libfoo-dev
      RHEL/Fedora:    dnf install foo-devel
  - set FOO_DIR to an install prefix with lib/libfoo.so (or lib64/, lib/<multiarch>/) and include/foo.h
  - add the directory holding foo.pc to PKG_CONFIG_PATH
  - put foo-<version>.tar.gz in vendor/ or set FOO_SRC to a source tree
  - enable the `vendored` feature of foo-sys to build from source

If none of that helps, report a bug with this message and:
  crate:   foo-sys 0.1.0
  host:    x86_64-unknown-linux-gnu
  target:  x86_64-unknown-linux-gnu",
        empty.display()
    );
    assert_eq!(err.to_string(), expected);
}

#[test]
fn failure_message_when_the_dir_is_wrong_skips_the_rest() {
    let p = FakePrefix::new("lib", 1, 2);
    let pc = p.write_pc("1.2"); // would succeed, but FOO_DIR is an explicit choice
    let bad = p.tmp.path().join("nowhere");
    let err = run(&FAKE, &env(&p, &pc).with("FOO_DIR", &bad), None).unwrap_err();
    let text = err.to_string();
    let expected_probes = format!(
        "Probes tried, in order:
  1. FOO_DIR={0}: {0} is not a directory
  2. pkg-config foo: skipped (FOO_DIR is set, so only that prefix is used)
",
        bad.display()
    );
    assert!(text.contains(&expected_probes), "{text}");
    assert!(text.contains("and include/foo.h, or unset FOO_DIR so the other probes run\n"));
}
