//! Probe 3: build from source into OUT_DIR. The -sys crate supplies the
//! recipe as a [`SourceBuild`]; this file supplies the pieces most recipes
//! share: finding a source (`<PREFIX>_SRC` or a tarball in `vendor/`) and an
//! autotools configure / make / make install that never writes to the source.

use crate::env::Env;
use crate::library::Library;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Variables the autotools helper reads.
pub const VARS: &[&str] = &["CC", "CFLAGS", "MAKE"];

/// A -sys crate's recipe for the last probe.
pub struct SourceBuild<'a> {
    /// Shown in the probe list, e.g. `in-tree rofi/ (autotools)`.
    pub what: String,
    /// Shown among the fixes, e.g. `put ucx-<version>.tar.gz in vendor/ or set UCX_SRC`.
    pub hint: String,
    /// Skip pkg-config and build (the crate's `vendored` feature is on).
    pub forced: bool,
    /// Builds and installs; the chain then checks the prefix like `<PREFIX>_DIR`.
    pub run: Recipe<'a>,
}

/// Builds from source and returns what it built, or why it could not.
pub type Recipe<'a> = Box<dyn Fn(&Env) -> Result<Built, String> + 'a>;

/// What a recipe produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Built {
    /// Install prefix (`.../install` with lib/ and include/).
    pub prefix: PathBuf,
    /// Source files or directories whose change must re-run the build script.
    pub sources: Vec<PathBuf>,
}

/// Where the source comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Dir(PathBuf),
    Tarball(PathBuf),
}

impl Source {
    pub fn path(&self) -> &Path {
        match self {
            Source::Dir(p) | Source::Tarball(p) => p,
        }
    }
}

/// `<PREFIX>_SRC` when set, else the last (by name) `vendor_dir/<stem>-*.tar.{gz,bz2,xz}`.
pub fn locate(lib: &Library, env: &Env, vendor_dir: &Path, stem: &str) -> Result<Source, String> {
    let var = lib.src_var();
    if let Some(dir) = env.path(&var) {
        return if dir.is_dir() {
            Ok(Source::Dir(dir))
        } else {
            Err(format!("{var}={} is not a directory", dir.display()))
        };
    }
    let mut tarballs: Vec<PathBuf> = fs::read_dir(vendor_dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            name.starts_with(&format!("{stem}-"))
                && [".tar.gz", ".tgz", ".tar.bz2", ".tar.xz"].iter().any(|x| name.ends_with(x))
        })
        .collect();
    tarballs.sort();
    tarballs.pop().map(Source::Tarball).ok_or_else(|| {
        format!("{var} unset and no {stem}-*.tar.{{gz,bz2,xz}} in {}", vendor_dir.display())
    })
}

/// Copies or unpacks `source` to `work/src`, generates `configure` if needed,
/// configures out of tree in `work/build` with `-fPIC`, and installs into
/// `work/install`, which it returns. Output goes to `work/build.log`.
pub fn autotools(
    source: &Source,
    work: &Path,
    configure_args: &[String],
    env: &Env,
) -> Result<PathBuf, String> {
    let (src, build, install) = (work.join("src"), work.join("build"), work.join("install"));
    for dir in [&src, &build] {
        let _ = fs::remove_dir_all(dir); // a stale tree from an earlier run must not leak in
        fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let log = work.join("build.log");
    File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    match source {
        Source::Dir(dir) => {
            copy_tree(dir, &src, work).map_err(|e| format!("copying {}: {e}", dir.display()))?
        }
        Source::Tarball(t) => run(
            Command::new("tar").arg("-xf").arg(t).arg("-C").arg(&src).arg("--strip-components=1"),
            &log,
            "tar",
        )?,
    }
    if !src.join("configure").is_file() {
        if !src.join("configure.ac").is_file() {
            return Err(format!("no configure or configure.ac in {}", source.path().display()));
        }
        run(Command::new("autoreconf").arg("-fi").current_dir(&src), &log, "autoreconf -fi")?;
    }
    if src.join("config.status").is_file() {
        // The source had been configured in place; out-of-tree configure refuses that.
        run(Command::new(make(env)).arg("distclean").current_dir(&src), &log, "make distclean")?;
    }
    let mut cflags = String::from("-fPIC -O2 -g");
    if let Some(user) = env.display("CFLAGS") {
        cflags = format!("{cflags} {user}"); // the user's flags come last, so they win
    }
    let mut configure = Command::new(src.join("configure"));
    configure.arg(format!("--prefix={}", install.display())).args(configure_args);
    configure.env("CFLAGS", cflags).current_dir(&build);
    if let Some(cc) = env.get("CC") {
        configure.env("CC", cc);
    }
    run(&mut configure, &log, "configure")?;
    let jobs = format!("-j{}", env.display("NUM_JOBS").unwrap_or_else(|| "1".into()));
    run(Command::new(make(env)).arg(jobs).current_dir(&build), &log, "make")?;
    run(Command::new(make(env)).arg("install").current_dir(&build), &log, "make install")?;
    Ok(install)
}

fn make(env: &Env) -> String {
    env.display("MAKE").unwrap_or_else(|| "make".into())
}

/// Runs `cmd` with its output appended to `log`; on failure, the log's tail is the error.
fn run(cmd: &mut Command, log: &Path, what: &str) -> Result<(), String> {
    let open = || File::options().append(true).open(log);
    let (out, err) = match (open(), open()) {
        (Ok(o), Ok(e)) => (o, e),
        _ => return Err(format!("cannot open {}", log.display())),
    };
    let status = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .status()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    if status.success() {
        return Ok(());
    }
    let text = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(15)..].join("\n      ");
    Err(format!("{what} failed ({status}); end of {}:\n      {tail}", log.display()))
}

/// Recursive copy that keeps symlinks and modification times, skips VCS data and never descends into
/// `skip` (OUT_DIR may sit inside the source tree).
fn copy_tree(from: &Path, to: &Path, skip: &Path) -> std::io::Result<()> {
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let (path, dest) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type()?;
        if entry.file_name() == ".git" || path == skip {
            continue;
        }
        if kind.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&path)?, &dest)?;
        } else if kind.is_dir() {
            fs::create_dir_all(&dest)?;
            copy_tree(&path, &dest, skip)?;
        } else {
            fs::copy(&path, &dest)?;
            // Keep modification times: a generated `configure` / `Makefile.in` that looks
            // older than its `configure.ac` / `Makefile.am` makes `make` re-run
            // autoconf / automake (and fail where they are not installed).
            let meta = entry.metadata()?;
            let times =
                fs::FileTimes::new().set_accessed(meta.accessed()?).set_modified(meta.modified()?);
            File::open(&dest)?.set_times(times)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
