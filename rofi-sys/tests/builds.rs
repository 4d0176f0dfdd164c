//! Real builds of a downstream crate that depends on rofi-sys, one per way of finding ROFI and
//! libfabric, each run as a one-PE (singleton) job. No mocks: every test runs `cargo build` on
//! a generated crate, runs its binary, and checks what it printed (provider, size, which
//! libfabric / librofi the loader mapped) or, for misconfigurations, the build-script message.
//!
//! * All child `cargo` builds share one target directory (under `CARGO_TARGET_TMPDIR`, kept
//!   between runs), so bindgen and its dependencies compile once.
//! * Every variable rofi-sys reads is set or removed explicitly on each child process; this
//!   process's environment is never changed, so the tests cannot race on it.
//! * Heavy steps (child builds, the ROFI install) take one lock: on a 2-core machine running
//!   two autotools builds at once is slower than running them in turn.
//! * The vendored-libfabric test builds libfabric from the sources of the lamellar-libfabric-src
//!   crate (a build dependency with the feature): 1-2 minutes on 2 cores the first time.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Every variable the rofi-sys build script (and build-support for it) reads.
const ROFI_SYS_VARS: &[&str] = &[
    "ROFI_DIR",
    "ROFI_SRC",
    "OFI_DIR",
    "OFI_SRC",
    "LIBFABRIC_SRC",
    "PKG_CONFIG",
    "PKG_CONFIG_PATH",
    "PKG_CONFIG_LIBDIR",
    "PKG_CONFIG_SYSROOT_DIR",
    "CC",
    "CFLAGS",
    "MAKE",
];

/// Variables that would change how the test binaries are loaded or which fabric they open.
const RUN_VARS: &[&str] = &[
    "LD_LIBRARY_PATH",
    "LD_PRELOAD",
    "ROFI_PROVIDER",
    "ROFI_DOMAIN",
    "FI_PROVIDER",
    "FI_PROVIDER_PATH",
    "PMI_FD",
    "PMI_PORT",
    "PMI_ID",
    "PMI_RANK",
    "PMI_SIZE",
];

const TCP: &str = "tcp;ofi_rxm";
const SHM: &str = "shm";

static HEAVY: Mutex<()> = Mutex::new(());

fn heavy() -> MutexGuard<'static, ()> {
    HEAVY.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn workspace() -> PathBuf {
    manifest_dir().parent().unwrap().to_path_buf()
}

/// Kept between runs so only the first run compiles bindgen & co.
fn shared_target() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("rofi-sys-builds")
}

/// Where rofi-sys sits for a consumer, and how it gets build-support.
enum RofiSys<'a> {
    /// This checkout (`rofi-sys = { path = .. }`).
    Workspace,
    /// An unpacked `cargo package` tarball: its manifest names `build-support = "0.1.0"` from
    /// crates.io, which is not published, so the consumer patches it to the workspace copy.
    Packaged(&'a Path),
}

/// A binary crate depending on rofi-sys whose build script calls
/// `build_support::rpath_from_deps(&["rofi"])` and whose `main` runs a singleton job.
struct Consumer {
    dir: tempfile::TempDir,
    name: String,
}

impl Consumer {
    fn new(name: &str, rofi_sys: RofiSys<'_>, features: &[&str]) -> Consumer {
        let dir = tempfile::tempdir().unwrap();
        let ws = workspace();
        let build_support = ws.join("build-support");
        let (rofi_sys_path, patch) = match rofi_sys {
            RofiSys::Workspace => (manifest_dir().to_path_buf(), String::new()),
            RofiSys::Packaged(p) => (
                p.to_path_buf(),
                format!(
                    "\n[patch.crates-io]\nbuild-support = {{ path = {:?} }}\n",
                    build_support.display().to_string()
                ),
            ),
        };
        let manifest = format!(
            "[package]\nname = {name:?}\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
             [dependencies]\nrofi-sys = {{ path = {:?}, features = {features:?} }}\n\n\
             [build-dependencies]\nbuild-support = {{ path = {:?} }}\n{patch}\n[workspace]\n",
            rofi_sys_path.display().to_string(),
            build_support.display().to_string(),
        );
        std::fs::write(dir.path().join("Cargo.toml"), manifest).unwrap();
        std::fs::create_dir(dir.path().join("src")).unwrap();
        std::fs::write(dir.path().join("build.rs"), CONSUMER_BUILD_RS).unwrap();
        std::fs::write(dir.path().join("src/main.rs"), CONSUMER_MAIN_RS).unwrap();
        // Pin the versions the workspace already resolved and downloaded: builds stay offline.
        std::fs::copy(ws.join("Cargo.lock"), dir.path().join("Cargo.lock")).unwrap();
        Consumer { dir, name: name.to_string() }
    }

    /// `cargo build` with exactly `vars` set among the variables rofi-sys reads.
    fn build(&self, vars: &[(&str, &Path)]) -> Output {
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args(["build", "--offline", "--manifest-path"])
            .arg(self.dir.path().join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", shared_target())
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS");
        for var in ROFI_SYS_VARS {
            cmd.env_remove(var);
        }
        for (k, v) in vars {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null()).output().unwrap()
    }

    fn build_ok(&self, vars: &[(&str, &Path)]) {
        let out = self.build(vars);
        assert!(
            out.status.success(),
            "build of {} failed:\n{}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn binary(&self) -> PathBuf {
        shared_target().join("debug").join(&self.name)
    }

    /// Runs the binary as a singleton job (no PMI variables, no LD_LIBRARY_PATH: the
    /// loader must find everything through the rpath) and parses what it printed.
    fn run(&self, provider: &str) -> Report {
        let mut cmd = Command::new(self.binary());
        for var in RUN_VARS {
            cmd.env_remove(var);
        }
        cmd.env("ROFI_PROVIDER", provider).env("ROFI_TIMEOUT", "20");
        let out = run_with_timeout(&mut cmd, Duration::from_secs(90));
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{} with ROFI_PROVIDER={provider} failed ({}):\n{stdout}\n{}",
            self.name,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        Report::parse(&stdout)
    }
}

const CONSUMER_BUILD_RS: &str = r#"
fn main() {
    // The one line every crate linking a final binary needs (DEP_ROFI_LIB: ROFI's and libfabric's lib dirs).
    build_support::rpath_from_deps(&["rofi"]);
    // What rofi-sys published, compiled into the binary so the test can check it.
    for key in ["ROOT", "LIB", "INCLUDE", "VERSION", "OFI_ROOT", "OFI_LIB", "OFI_VERSION"] {
        let value = std::env::var(format!("DEP_ROFI_{key}")).unwrap_or_else(|_| "<unset>".into());
        println!("cargo::rustc-env=SEEN_DEP_ROFI_{key}={value}");
        println!("cargo::rerun-if-env-changed=DEP_ROFI_{key}");
    }
}
"#;

const CONSUMER_MAIN_RS: &str = r#"
use std::ffi::CStr;

fn last_error() -> String {
    unsafe { CStr::from_ptr(rofi_sys::rofi_last_error()) }.to_string_lossy().into_owned()
}

fn main() {
    // NULL, NULL: provider and domain come from ROFI_PROVIDER / ROFI_DOMAIN.
    let rc = unsafe { rofi_sys::rofi_init(std::ptr::null(), std::ptr::null()) };
    if rc != 0 {
        eprintln!("rofi_init failed: {rc}: {}", last_error());
        std::process::exit(2);
    }
    let size = unsafe { rofi_sys::rofi_get_size() };
    let id = unsafe { rofi_sys::rofi_get_id() };
    let provider = unsafe { CStr::from_ptr(rofi_sys::rofi_provider_name()) }.to_string_lossy().into_owned();
    // The shared objects really mapped into this process.
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let mut mapped: Vec<&str> = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .filter(|p| p.contains("libfabric.so") || p.contains("librofi.so"))
        .collect();
    mapped.sort();
    mapped.dedup();
    let fin = unsafe { rofi_sys::rofi_finalize() };
    if fin != 0 {
        eprintln!("rofi_finalize failed: {fin}: {}", last_error());
        std::process::exit(3);
    }
    println!("size={size}");
    println!("id={id}");
    println!("provider={provider}");
    for m in mapped {
        println!("mapped={m}");
    }
    println!("root={}", env!("SEEN_DEP_ROFI_ROOT"));
    println!("lib={}", env!("SEEN_DEP_ROFI_LIB"));
    println!("include={}", env!("SEEN_DEP_ROFI_INCLUDE"));
    println!("version={}", env!("SEEN_DEP_ROFI_VERSION"));
    println!("ofi_root={}", env!("SEEN_DEP_ROFI_OFI_ROOT"));
    println!("ofi_lib={}", env!("SEEN_DEP_ROFI_OFI_LIB"));
    println!("ofi_version={}", env!("SEEN_DEP_ROFI_OFI_VERSION"));
}
"#;

/// What the consumer binary printed.
#[derive(Debug, Default)]
struct Report {
    size: i32,
    id: i32,
    provider: String,
    mapped: Vec<PathBuf>,
    root: PathBuf,
    lib: Vec<PathBuf>,
    version: String,
    ofi_root: PathBuf,
    ofi_lib: Vec<PathBuf>,
    ofi_version: String,
}

impl Report {
    fn parse(stdout: &str) -> Report {
        let mut r = Report::default();
        for line in stdout.lines() {
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            let list = |v: &str| std::env::split_paths(v).collect::<Vec<_>>();
            match k {
                "size" => r.size = v.parse().unwrap(),
                "id" => r.id = v.parse().unwrap(),
                "provider" => r.provider = v.into(),
                "mapped" => r.mapped.push(v.into()),
                "root" => r.root = v.into(),
                "lib" => r.lib = list(v),
                "version" => r.version = v.into(),
                "ofi_root" => r.ofi_root = v.into(),
                "ofi_lib" => r.ofi_lib = list(v),
                "ofi_version" => r.ofi_version = v.into(),
                _ => {}
            }
        }
        r
    }

    /// The one singleton every run must show.
    fn assert_singleton(&self, provider: &str) {
        assert_eq!((self.size, self.id), (1, 0), "{self:#?}");
        let wanted = if provider == SHM { "shm" } else { "tcp" };
        assert!(self.provider.contains(wanted), "asked for {provider}, got {self:#?}");
        assert_eq!(self.version, "0.2", "{self:#?}");
    }

    /// The one libfabric mapped into the process.
    fn libfabric(&self) -> &Path {
        let fabric: Vec<&PathBuf> = self
            .mapped
            .iter()
            .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("libfabric.so"))
            .collect();
        assert_eq!(fabric.len(), 1, "exactly one libfabric must be mapped: {self:#?}");
        fabric[0]
    }

    fn librofi(&self) -> Option<&Path> {
        self.mapped
            .iter()
            .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("librofi.so"))
            .map(PathBuf::as_path)
    }
}

fn run_with_timeout(cmd: &mut Command, limit: Duration) -> Output {
    let mut child =
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{cmd:?} did not finish in {limit:?}:\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn sh(cmd: &mut Command, what: &str) {
    let out = cmd.stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        tail(&String::from_utf8_lossy(&out.stderr), 40)
    );
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn assert_contains(haystack: &str, needles: &[&str]) {
    for needle in needles {
        assert!(haystack.contains(needle), "missing {needle:?} in:\n{haystack}");
    }
}

/// A build that must fail in rofi-sys's build script with build-support's message
/// (not a panic, a bindgen error or a linker error).
fn assert_build_script_failure(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "the build must fail:\n{stderr}");
    assert_contains(&stderr, &["failed to run custom build command for `rofi-sys v0.1.0"]);
    for wrong in ["panicked", "linking with", "undefined reference", "bindgen on rofi.h"] {
        assert!(!stderr.contains(wrong), "unexpected {wrong:?} in:\n{stderr}");
    }
    stderr
}

/// Debian's multiarch name for this machine (`x86_64-linux-gnu`).
fn multiarch() -> String {
    format!("{}-linux-gnu", std::env::consts::ARCH)
}

/// Where Debian's libfabric-dev puts libfabric.so (found by pkg-config).
fn system_libdir() -> PathBuf {
    Path::new("/usr/lib").join(multiarch())
}

/// `major.minor` from the system's rdma/fabric.h.
fn system_libfabric_version() -> String {
    let header = std::fs::read_to_string("/usr/include/rdma/fabric.h").unwrap();
    let number = |name: &str| -> String {
        header
            .lines()
            .find_map(|l| {
                l.strip_prefix("#define ")?.trim().strip_prefix(name)?.split_whitespace().next()
            })
            .unwrap_or_else(|| panic!("no {name} in /usr/include/rdma/fabric.h"))
            .to_string()
    };
    format!("{}.{}", number("FI_MAJOR_VERSION"), number("FI_MINOR_VERSION"))
}

/// Requirement 2: `ROFI_DIR` unset (the default): the bundled rofi/ is built with autotools into OUT_DIR
/// and linked statically; libfabric comes from pkg-config (the system's).
#[test]
fn default_builds_the_bundled_rofi_into_out_dir() {
    let c = Consumer::new("rofi_default", RofiSys::Workspace, &[]);
    let _g = heavy();
    c.build_ok(&[]);
    for provider in [TCP, SHM] {
        let r = c.run(provider);
        r.assert_singleton(provider);
        assert!(r.root.starts_with(shared_target()), "ROFI built into OUT_DIR: {r:#?}");
        assert!(r.root.ends_with("out/rofi/install"), "{r:#?}");
        assert!(r.root.join("lib/librofi.a").is_file(), "{r:#?}");
        assert_eq!(r.librofi(), None, "the bundled ROFI is static: {r:#?}");
        assert_eq!(r.lib[0], r.root.join("lib"), "DEP_ROFI_LIB starts with ROFI's lib dir: {r:#?}");
        assert!(r.lib.contains(&system_libdir()), "and has libfabric's: {r:#?}");
        assert_eq!(r.ofi_root, Path::new("/usr"), "{r:#?}");
        assert!(r.libfabric().starts_with(system_libdir()), "{r:#?}");
    }
}

/// Configures (out of tree) and installs a copy of rofi/ into `prefix`, shared only.
/// Works on a copy, so rofi/ itself is never written (autoreconf runs in the copy when
/// there is no generated configure, as in a fresh clone).
fn install_rofi(tmp: &Path, prefix: &Path) {
    let src = tmp.join("rofi-src");
    let build = tmp.join("rofi-build");
    sh(Command::new("cp").arg("-a").arg(workspace().join("rofi")).arg(&src), "cp -a rofi");
    if src.join("config.status").is_file() {
        // rofi/ had been configured in place; an out-of-tree configure refuses such a tree.
        sh(Command::new("make").arg("distclean").current_dir(&src), "make distclean");
    }
    if !src.join("configure").is_file() {
        sh(Command::new("autoreconf").arg("-fi").current_dir(&src), "autoreconf -fi");
    }
    std::fs::create_dir(&build).unwrap();
    sh(
        Command::new(src.join("configure"))
            .arg(format!("--prefix={}", prefix.display()))
            .args(["--disable-static", "--disable-dependency-tracking"])
            .current_dir(&build),
        "configure",
    );
    sh(Command::new("make").arg("-j2").current_dir(&build), "make");
    sh(Command::new("make").arg("install").current_dir(&build), "make install");
}

/// Requirement 1: `ROFI_DIR` set: that installed ROFI (a shared librofi.so) is used, found at run time
/// through the consumer's rpath, and its rofi.h version is what rofi-sys publishes.
#[test]
fn rofi_dir_uses_the_installed_rofi() {
    let tmp = tempfile::tempdir().unwrap();
    let prefix = tmp.path().join("rofi-inst");
    let c = Consumer::new("rofi_dir_installed", RofiSys::Workspace, &[]);
    let _g = heavy();
    install_rofi(tmp.path(), &prefix);
    assert!(prefix.join("lib/librofi.so").exists());
    assert!(!prefix.join("lib/librofi.a").exists());

    c.build_ok(&[("ROFI_DIR", &prefix)]);
    let r = c.run(TCP);
    r.assert_singleton(TCP);
    assert_eq!(r.root, prefix, "{r:#?}");
    assert_eq!(r.lib[0], prefix.join("lib"), "{r:#?}");
    let librofi = r.librofi().expect("librofi.so is mapped");
    assert!(librofi.starts_with(prefix.join("lib")), "librofi from ROFI_DIR: {r:#?}");
    assert!(r.libfabric().starts_with(system_libdir()), "{r:#?}");
}

/// Requirement 1: `ROFI_DIR` pointing at something that is not a usable ROFI fails in the build script
/// with the diagnostic, and never falls back to the bundled sources.
#[test]
fn rofi_dir_too_old_or_incomplete_fails_with_the_diagnostic() {
    let tmp = tempfile::tempdir().unwrap();
    // Too old: a rofi.h below the 0.2 minimum, next to a librofi.so.
    let old = tmp.path().join("old");
    std::fs::create_dir_all(old.join("include")).unwrap();
    std::fs::create_dir_all(old.join("lib")).unwrap();
    std::fs::write(old.join("lib/librofi.so"), "").unwrap();
    std::fs::write(
        old.join("include/rofi.h"),
        "#define ROFI_VERSION_MAJOR 0\n#define ROFI_VERSION_MINOR 0\nint rofi_init(const char *, const char *);\n",
    )
    .unwrap();
    // Incomplete: a header, but no library.
    let nolib = tmp.path().join("nolib");
    std::fs::create_dir_all(nolib.join("include")).unwrap();
    std::fs::copy(workspace().join("rofi/include/rofi.h"), nolib.join("include/rofi.h")).unwrap();

    let c = Consumer::new("rofi_dir_bad", RofiSys::Workspace, &[]);
    let _g = heavy();
    let common = [
        "could not find ROFI >= 0.2, needed by rofi-sys 0.1.0",
        "  2. pkg-config rofi: skipped (ROFI_DIR is set, so only that prefix is used)\n",
        "  3. source build, bundled ROFI in ",
        ": skipped (ROFI_DIR is set, so only that prefix is used)\n",
        "set ROFI_DIR to an install prefix with lib/librofi.so (or lib64/, lib/<multiarch>/) and include/rofi.h, or unset ROFI_DIR",
    ];

    let stderr = assert_build_script_failure(&c.build(&[("ROFI_DIR", &old)]));
    assert_contains(&stderr, &common);
    let o = old.display();
    assert_contains(
        &stderr,
        &[&format!("  1. ROFI_DIR={o}: found 0.0 (in {o}/include/rofi.h), need >= 0.2\n")],
    );

    let stderr = assert_build_script_failure(&c.build(&[("ROFI_DIR", &nolib)]));
    assert_contains(&stderr, &common);
    let n = nolib.display();
    assert_contains(
        &stderr,
        &[&format!(
            "  1. ROFI_DIR={n}: no librofi.so or librofi.a in {n}/lib, {n}/lib64, {n}/lib/{}\n",
            multiarch()
        )],
    );
}

/// Requirement 3: The published crate carries the C sources: `cargo package`, unpack, build and run a
/// consumer of the unpacked crate. build-support is not on crates.io, so the consumer
/// patches it (`[patch.crates-io]`) to the workspace copy, as a publish would need it published.
#[test]
fn packaged_crate_builds_from_its_own_c_sources() {
    let tmp = tempfile::tempdir().unwrap();
    let pkg_target = tmp.path().join("pkg-target");
    let _g = heavy();
    // --exclude-lockfile: a lockfile would need build-support resolvable on crates.io (a
    // library's lockfile is unused by dependents anyway). --no-verify: verified below, by hand.
    let out = Command::new(env!("CARGO"))
        .args([
            "package",
            "--offline",
            "-p",
            "rofi-sys",
            "--allow-dirty",
            "--no-verify",
            "--exclude-lockfile",
        ])
        .arg("--manifest-path")
        .arg(workspace().join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &pkg_target)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "cargo package:\n{}", String::from_utf8_lossy(&out.stderr));
    let crate_file = pkg_target.join("package/rofi-sys-0.1.0.crate");
    sh(Command::new("tar").arg("-xzf").arg(&crate_file).arg("-C").arg(tmp.path()), "tar -x");
    let unpacked = tmp.path().join("rofi-sys-0.1.0");

    let rofi = unpacked.join("rofi");
    assert!(rofi.is_dir() && !rofi.is_symlink(), "the package holds a real rofi/ directory");
    for file in [
        "configure.ac",
        "Makefile.am",
        "rofi.pc.in",
        "include/rofi.h",
        "src/init.c",
        "src/pmi.c",
        "src/rofi_internal.h",
    ] {
        assert!(rofi.join(file).is_file(), "rofi/{file} missing from the package");
    }
    // ROFI's C tests stay out: they run under the workspace's launcher (make check).
    assert!(!rofi.join("tests").exists(), "rofi/tests/ shipped in the package");
    let manifest = std::fs::read_to_string(unpacked.join("Cargo.toml")).unwrap();
    assert_contains(&manifest, &["[build-dependencies.build-support]\nversion = \"0.1.0\""]);
    assert!(!manifest.contains("path = \"../"), "no path outside the package:\n{manifest}");

    let c = Consumer::new("rofi_packaged", RofiSys::Packaged(&unpacked), &[]);
    c.build_ok(&[]);
    let r = c.run(TCP);
    r.assert_singleton(TCP);
    assert!(r.root.ends_with("out/rofi/install"), "{r:#?}");
    assert_eq!(r.librofi(), None, "{r:#?}");
    // The ROFI that was built is the package's copy, not the workspace's rofi/.
    let output = r.root.parent().unwrap().parent().unwrap().parent().unwrap().join("output");
    let output = std::fs::read_to_string(&output).unwrap();
    assert_contains(&output, &[&format!("cargo::rerun-if-changed={}", rofi.join("src").display())]);
}

/// Copies the system libfabric (shared library and headers) into a prefix of its own.
fn copy_system_libfabric(prefix: &Path) {
    let lib = prefix.join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    std::fs::create_dir_all(prefix.join("include")).unwrap();
    let mut copied = 0;
    for entry in std::fs::read_dir(system_libdir()).unwrap().flatten() {
        if entry.file_name().to_string_lossy().starts_with("libfabric.so") {
            sh(Command::new("cp").arg("-P").arg(entry.path()).arg(&lib), "cp libfabric");
            copied += 1;
        }
    }
    assert!(copied >= 2, "libfabric.so and its soname link (install libfabric-dev)");
    sh(
        Command::new("cp").arg("-r").arg("/usr/include/rdma").arg(prefix.join("include")),
        "cp rdma headers",
    );
}

/// Requirement 4: `OFI_DIR` at a non-standard prefix: ROFI is configured against it, and the consumer's
/// binary, run without LD_LIBRARY_PATH, loads that libfabric (rpath from DEP_ROFI_LIB).
#[test]
fn ofi_dir_nonstandard_prefix_is_used_at_run_time_without_ld_library_path() {
    let tmp = tempfile::tempdir().unwrap();
    let ofi = tmp.path().join("ofi");
    copy_system_libfabric(&ofi);
    let c = Consumer::new("rofi_ofi_dir", RofiSys::Workspace, &[]);
    let _g = heavy();
    c.build_ok(&[("OFI_DIR", &ofi)]);
    for provider in [TCP, SHM] {
        let r = c.run(provider);
        r.assert_singleton(provider);
        assert_eq!(r.ofi_root, ofi, "{r:#?}");
        assert_eq!(r.ofi_lib, [ofi.join("lib")], "{r:#?}");
        assert_eq!(r.ofi_version, system_libfabric_version(), "{r:#?}");
        assert!(r.lib.contains(&ofi.join("lib")), "DEP_ROFI_LIB carries libfabric's dir: {r:#?}");
        let fabric = r.libfabric();
        assert!(fabric.starts_with(ofi.join("lib")), "libfabric from the copy: {r:#?}");
        assert!(!fabric.starts_with("/usr"), "{r:#?}");
    }
    // The loader's own view, from outside the process.
    let ldd = Command::new("ldd").arg(c.binary()).env_remove("LD_LIBRARY_PATH").output().unwrap();
    let ldd = String::from_utf8_lossy(&ldd.stdout);
    let line =
        ldd.lines().find(|l| l.contains("libfabric.so")).unwrap_or_else(|| panic!("ldd:\n{ldd}"));
    assert!(line.contains(&format!("=> {}/lib/libfabric.so", ofi.display())), "ldd:\n{ldd}");
}

/// Requirement 5: `OFI_DIR` pointing nowhere fails at build time (rofi-sys's build script), naming
/// OFI_DIR and the packages to install, not at link time.
#[test]
fn ofi_dir_nowhere_fails_at_build_time_with_the_diagnostic() {
    let c = Consumer::new("rofi_ofi_nowhere", RofiSys::Workspace, &[]);
    let _g = heavy();
    let stderr =
        assert_build_script_failure(&c.build(&[("OFI_DIR", Path::new("/nonexistent/ofi"))]));
    assert_contains(
        &stderr,
        &[
            "could not find libfabric >= 1.13, needed by rofi-sys 0.1.0",
            "  1. OFI_DIR=/nonexistent/ofi: /nonexistent/ofi is not a directory\n",
            "  2. pkg-config libfabric: skipped (OFI_DIR is set, so only that prefix is used)\n",
            "Debian/Ubuntu:  apt-get install libfabric-dev\n",
            "RHEL/Fedora:    dnf install libfabric-devel\n",
            "set OFI_DIR to an install prefix with lib/libfabric.so",
            "or unset OFI_DIR so the other probes run",
            "add the directory holding libfabric.pc to PKG_CONFIG_PATH",
            "enable the `vendored` feature of rofi-sys to build from source",
        ],
    );
    assert!(!stderr.contains("could not find ROFI"), "stops at libfabric:\n{stderr}");
}

/// Requirement 6: The `vendored` feature builds libfabric from source with the tcp, shm and rxm providers.
/// Neither LIBFABRIC_SRC nor a vendor/ tarball is given (the Consumer removes every variable
/// rofi-sys reads), so the source is the one the lamellar-libfabric-src crate ships: a git
/// tree without `configure`, which the build copies to OUT_DIR and runs autoreconf on there.
/// The system's libfabric-dev is installed, so every check below tells the two apart.
/// 1-2 minutes on 2 cores the first time; the install is then kept in the shared target dir.
#[test]
fn vendored_libfabric_from_source() {
    let vendor = workspace().join("vendor");
    let tarballs: Vec<_> = std::fs::read_dir(&vendor)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("libfabric-"))
        .map(|e| e.path())
        .collect();
    assert!(tarballs.is_empty(), "this test builds the crate's sources; remove {tarballs:?}");
    let c = Consumer::new("rofi_vendored", RofiSys::Workspace, &["vendored"]);
    let _g = heavy();
    // Nothing else in the workspace builds lamellar-libfabric-src, so a fresh machine has not
    // downloaded it yet; fetch what the lockfile pins (no network when it is all there).
    sh(
        Command::new(env!("CARGO"))
            .arg("fetch")
            .arg("--manifest-path")
            .arg(c.dir.path().join("Cargo.toml")),
        "cargo fetch",
    );
    c.build_ok(&[]);
    let mut report = None;
    for provider in [TCP, SHM] {
        let r = c.run(provider);
        r.assert_singleton(provider);
        assert!(r.ofi_root.ends_with("out/libfabric/install"), "{r:#?}");
        assert!(r.ofi_root.starts_with(shared_target()), "{r:#?}");
        assert_eq!(r.ofi_lib, [r.ofi_root.join("lib")], "{r:#?}");
        assert!(
            r.libfabric().starts_with(r.ofi_root.join("lib")),
            "the built libfabric is loaded, not the system's: {r:#?}"
        );
        report = Some(r);
    }
    let r = report.unwrap();

    // The source was the crate's: the build script watches its libfabric/ directory ...
    let output = r.ofi_root.ancestors().nth(3).unwrap().join("output");
    let output = std::fs::read_to_string(&output).unwrap();
    let source = output
        .lines()
        .filter_map(|l| l.strip_prefix("cargo::rerun-if-changed="))
        .map(PathBuf::from)
        .find(|p| {
            p.ends_with("libfabric")
                && p.parent()
                    .unwrap()
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("lamellar-libfabric-src-")
        })
        .unwrap_or_else(|| panic!("no lamellar-libfabric-src-*/libfabric source in:\n{output}"));
    // ... whose configure.ac names the version rofi-sys published ...
    let configure_ac = std::fs::read_to_string(source.join("configure.ac")).unwrap();
    let version = configure_ac
        .lines()
        .find_map(|l| l.strip_prefix("AC_INIT([libfabric], ["))
        .and_then(|v| v.split(']').next())
        .unwrap_or_else(|| panic!("no AC_INIT in {}", source.display()));
    assert!(version.starts_with(&format!("{}.", r.ofi_version)), "{version} vs {r:#?}");
    // ... and was never written to (it ships no `configure`): configured and built in a copy.
    for generated in ["configure", "autom4te.cache", "config.status", "Makefile"] {
        assert!(!source.join(generated).exists(), "{generated} in {}", source.display());
    }

    // fi_info from the install, against the install's libfabric: its version and providers.
    let fi_info = |arg: &str| {
        let out = Command::new(r.ofi_root.join("bin/fi_info"))
            .arg(arg)
            .env("LD_LIBRARY_PATH", r.ofi_root.join("lib"))
            .output()
            .unwrap();
        assert!(out.status.success(), "fi_info {arg}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_contains(&fi_info("--version"), &[&format!("libfabric: {version}\n")]);
    let list = fi_info("-l");
    for prov in ["tcp", "shm", "ofi_rxm"] {
        assert!(
            list.lines().any(|l| l.trim_end_matches(':').trim() == prov),
            "{prov} not built:\n{list}"
        );
    }
}
