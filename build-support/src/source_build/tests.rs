use super::*;
use crate::testutil::FAKE;
use std::collections::BTreeSet;

const FOO_H: &str = "#define FOO_MAJOR 1\n#define FOO_MINOR 3\nint foo(void);\n";
const FOO_C: &str = "#include \"foo.h\"\nint foo(void) { return 42; }\n";

/// A hand-written `configure` (no autotools needed) that substitutes its
/// prefix and CFLAGS into a Makefile in the *current* (build) directory.
const CONFIGURE: &str = r#"#!/bin/sh
srcdir=$(dirname "$0")
for a in "$@"; do case "$a" in --prefix=*) prefix="${a#--prefix=}";; esac; done
echo "$@" > configure.args
sed -e "s|@prefix@|$prefix|g" -e "s|@CFLAGS@|$CFLAGS|g" -e "s|@srcdir@|$srcdir|g" \
    "$srcdir/Makefile.in" > Makefile
"#;
const MAKEFILE_IN: &str = "all: libfoo.so\n\
libfoo.so: @srcdir@/foo.c\n\tcc @CFLAGS@ -shared -o libfoo.so @srcdir@/foo.c\n\
install: all\n\tmkdir -p @prefix@/lib @prefix@/include\n\
\tcp libfoo.so @prefix@/lib/\n\tcp @srcdir@/foo.h @prefix@/include/\n\
\techo '@CFLAGS@' > @prefix@/cflags\n";

fn fake_source(dir: &Path) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join("foo.h"), FOO_H).unwrap();
    fs::write(dir.join("foo.c"), FOO_C).unwrap();
    fs::write(dir.join("configure"), CONFIGURE).unwrap();
    fs::write(dir.join("Makefile.in"), MAKEFILE_IN).unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(dir.join("configure"), fs::Permissions::from_mode(0o755)).unwrap();
}

fn listing(dir: &Path) -> BTreeSet<PathBuf> {
    let mut all = BTreeSet::new();
    for e in fs::read_dir(dir).unwrap().flatten() {
        all.insert(e.path());
        if e.file_type().unwrap().is_dir() {
            all.extend(listing(&e.path()));
        }
    }
    all
}

#[test]
fn builds_out_of_tree_with_fpic_and_leaves_the_source_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("foo-src");
    fake_source(&src);
    let before = listing(&src);
    let env = Env::new().with("CFLAGS", "-DUSER_FLAG");
    let args = vec!["--with-ofi=/opt/ofi".to_string()];
    let install =
        autotools(&Source::Dir(src.clone()), &tmp.path().join("work"), &args, &env).unwrap();

    assert_eq!(install, tmp.path().join("work/install"));
    assert!(install.join("lib/libfoo.so").is_file());
    assert!(install.join("include/foo.h").is_file());
    assert_eq!(
        fs::read_to_string(install.join("cflags")).unwrap().trim(),
        "-fPIC -O2 -g -DUSER_FLAG"
    );
    let configure_args = fs::read_to_string(tmp.path().join("work/build/configure.args")).unwrap();
    assert!(configure_args.contains("--with-ofi=/opt/ofi"), "{configure_args}");
    assert_eq!(listing(&src), before, "the source tree must not change");
}

#[test]
fn unpacks_a_vendored_tarball() {
    let tmp = tempfile::tempdir().unwrap();
    fake_source(&tmp.path().join("foo-1.3"));
    let vendor = tmp.path().join("vendor");
    fs::create_dir(&vendor).unwrap();
    let tarball = vendor.join("foo-1.3.tar.gz");
    let ok = Command::new("tar")
        .arg("-czf")
        .arg(&tarball)
        .arg("-C")
        .arg(tmp.path())
        .arg("foo-1.3")
        .status()
        .unwrap();
    assert!(ok.success());
    fs::write(vendor.join("bar-9.0.tar.gz"), b"").unwrap(); // another library's: ignored

    let source = locate(&FAKE, &Env::new(), &vendor, "foo").unwrap();
    assert_eq!(source, Source::Tarball(tarball));
    let install = autotools(&source, &tmp.path().join("work"), &[], &Env::new()).unwrap();
    assert!(install.join("lib/libfoo.so").is_file());
}

#[test]
fn real_autoreconf_for_a_bare_checkout() {
    // A tree with only configure.ac / Makefile.am, like the in-tree rofi/.
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("foo");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("foo.h"), FOO_H).unwrap();
    fs::write(src.join("foo.c"), FOO_C).unwrap();
    fs::write(
        src.join("configure.ac"),
        "AC_INIT([foo], [1.3])\nAM_INIT_AUTOMAKE([foreign])\nAC_PROG_CC\nAM_PROG_AR\nAC_PROG_RANLIB\n\
         AC_CONFIG_FILES([Makefile])\nAC_OUTPUT\n",
    )
    .unwrap();
    fs::write(
        src.join("Makefile.am"),
        "lib_LIBRARIES = libfoo.a\nlibfoo_a_SOURCES = foo.c\ninclude_HEADERS = foo.h\n",
    )
    .unwrap();
    let before = listing(&src);
    let install =
        autotools(&Source::Dir(src.clone()), &tmp.path().join("work"), &[], &Env::new()).unwrap();
    assert!(install.join("lib/libfoo.a").is_file());
    assert_eq!(listing(&src), before, "autoreconf must run on the copy");
}

#[test]
fn the_copy_keeps_modification_times() {
    // A tree with a generated `configure` older than its inputs' copies would
    // make `make` re-run autoconf/automake; the copy must keep every mtime.
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("foo");
    fake_source(&src);
    let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_500_000_000);
    for name in ["configure", "Makefile.in"] {
        File::options().write(true).open(src.join(name)).unwrap().set_modified(old).unwrap();
    }
    autotools(&Source::Dir(src.clone()), &tmp.path().join("work"), &[], &Env::new()).unwrap();
    let mtime = |p: PathBuf| fs::metadata(p).unwrap().modified().unwrap();
    for name in ["configure", "Makefile.in", "foo.c", "foo.h"] {
        assert_eq!(mtime(tmp.path().join("work/src").join(name)), mtime(src.join(name)), "{name}");
    }
    assert_eq!(mtime(tmp.path().join("work/src/configure")), old);
}

#[test]
fn failure_shows_the_log_tail() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("foo");
    fake_source(&src);
    fs::write(src.join("foo.c"), "this is not C\n").unwrap();
    let err = autotools(&Source::Dir(src), &tmp.path().join("work"), &[], &Env::new()).unwrap_err();
    assert!(err.starts_with("make failed (exit status: 2); end of "), "{err}");
    assert!(err.contains("build.log"), "{err}");
}

#[test]
fn locate_prefers_src_var_and_explains_absence() {
    let tmp = tempfile::tempdir().unwrap();
    let env = Env::new().with("FOO_SRC", tmp.path());
    assert_eq!(locate(&FAKE, &env, Path::new("/none"), "foo"), Ok(Source::Dir(tmp.path().into())));
    let missing = Env::new().with("FOO_SRC", "/no/such/dir");
    assert_eq!(
        locate(&FAKE, &missing, tmp.path(), "foo"),
        Err("FOO_SRC=/no/such/dir is not a directory".into())
    );
    assert_eq!(
        locate(&FAKE, &Env::new(), tmp.path(), "foo"),
        Err(format!("FOO_SRC unset and no foo-*.tar.{{gz,bz2,xz}} in {}", tmp.path().display()))
    );
}
