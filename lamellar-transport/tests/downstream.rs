//! A program that depends on lamellar-transport alone (plus build-support and one line in
//! its build.rs, as README shows) finds the native libraries of a site install without
//! LD_LIBRARY_PATH: libfabric at a non-system `OFI_DIR` (and the ROFI built for it), UCX at
//! a non-system `UCX_DIR`, and OpenPMIx at a non-system `PMIX_DIR` when a PMIx launcher
//! starts it. The site installs are copies of the system's packages in a temporary prefix.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BUILD_RS: &str =
    "fn main() {\n    build_support::rpath_from_deps(&[\"lamellar-transport\"]);\n}\n";

/// Joins with the backend named by argv[1], then prints where each native library came from.
const MAIN_RS: &str = r#"
fn main() {
    let backend = std::env::args().nth(1).unwrap_or_else(|| "shmem".into());
    let t = lamellar_transport::Transport::builder().backend(&backend).init().unwrap_or_else(|e| {
        eprintln!("init: {e}");
        std::process::exit(1)
    });
    t.barrier().unwrap();
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    for lib in ["libfabric.so", "librofi.so", "libucp.so", "libucs.so", "libpmix.so"] {
        let path = maps.lines().filter_map(|l| l.split_whitespace().nth(5)).find(|p| p.contains(lib)).unwrap_or("none");
        println!("{lib}={path}");
    }
    t.finalize().unwrap();
}
"#;

const SYSTEM_LIBS: &str = "/usr/lib/x86_64-linux-gnu";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn cp(args: &[&str], from: &Path, to: &Path) {
    let ok = Command::new("cp").args(args).arg(from).arg(to).status().unwrap().success();
    assert!(ok, "cp {} {}", from.display(), to.display());
}

/// The shared objects of `dir` whose names start with one of `stems` (links kept as links),
/// and the header folders `headers`, copied into `prefix`'s lib and include.
fn site_install(prefix: &Path, dir: &Path, stems: &[&str], headers: &[&str]) {
    std::fs::create_dir_all(prefix.join("lib")).unwrap();
    std::fs::create_dir_all(prefix.join("include")).unwrap();
    let mut copied = 0;
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if stems.iter().any(|s| name.starts_with(&format!("{s}.so"))) {
            cp(&["-P"], &e.path(), &prefix.join("lib"));
            copied += 1;
        }
    }
    assert!(copied >= stems.len(), "{stems:?} in {}", dir.display());
    for h in headers {
        cp(&["-rL"], &Path::new("/usr/include").join(h), &prefix.join("include"));
    }
}

fn site_libfabric(prefix: &Path) {
    site_install(prefix, Path::new(SYSTEM_LIBS), &["libfabric"], &["rdma"]);
}

/// UCX finds its transport modules in `ucx/` beside libucs, so they come along.
fn site_ucx(prefix: &Path) {
    site_install(
        prefix,
        Path::new(SYSTEM_LIBS),
        &["libucp", "libucs", "libuct", "libucm"],
        &["ucp", "ucs", "uct", "ucm"],
    );
    cp(&["-r"], &Path::new(SYSTEM_LIBS).join("ucx"), &prefix.join("lib"));
}

/// libpmix alone: its plugins stay where its own build put them.
fn site_pmix(prefix: &Path) {
    std::fs::create_dir_all(prefix.join("lib")).unwrap();
    cp(&["-L"], &Path::new(SYSTEM_LIBS).join("libpmix.so.2"), &prefix.join("lib"));
}

fn lib_path<'a>(stdout: &'a str, lib: &str) -> &'a str {
    stdout.lines().find_map(|l| l.strip_prefix(&format!("{lib}="))).unwrap_or("none")
}

fn assert_from(stdout: &str, lib: &str, prefix: &Path) {
    let path = lib_path(stdout, lib);
    assert!(
        path.starts_with(&prefix.join("lib").display().to_string()),
        "{lib} from {}, not {path}",
        prefix.display()
    );
}

fn run(cmd: &mut Command) -> String {
    let out: Output = cmd
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("PMIX_DIR")
        .env("LAMELLAR_TIMEOUT", "30")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// A job launched with no launcher in sight: a singleton.
fn singleton(app: &Path, backend: &str) -> Command {
    let mut c = Command::new(app);
    c.arg(backend);
    for v in [
        "PMI_FD",
        "PMI_PORT",
        "PMI_RANK",
        "PMI_SIZE",
        "PMIX_NAMESPACE",
        "PMIX_RANK",
        "OMPI_COMM_WORLD_SIZE",
        "SLURM_STEP_NUM_TASKS",
    ] {
        c.env_remove(v);
    }
    c
}

#[test]
fn a_program_depending_on_lamellar_transport_alone_runs_without_ld_library_path() {
    let rofi = cfg!(feature = "rofi") && Path::new("/usr/include/rdma/fabric.h").exists();
    let ucx = cfg!(feature = "ucx") && Path::new("/usr/include/ucp/api/ucp.h").exists();
    let pmix = Path::new(SYSTEM_LIBS).join("libpmix.so.2").exists()
        && Path::new("/usr/bin/mpirun.openmpi").exists();
    if !(rofi || ucx || pmix) {
        eprintln!(
            "no native library to take from a site prefix here: skipped (scripts/test-all.sh installs them)"
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (ofi_dir, ucx_dir, pmix_dir) =
        (tmp.path().join("ofi"), tmp.path().join("ucx"), tmp.path().join("pmix"));
    let mut features = Vec::new();
    if rofi {
        site_libfabric(&ofi_dir);
        features.push("\"rofi\"");
    }
    if ucx {
        site_ucx(&ucx_dir);
        features.push("\"ucx\"");
    }
    if pmix {
        site_pmix(&pmix_dir);
    }
    let app = tmp.path().join("app");
    std::fs::create_dir_all(app.join("src")).unwrap();
    let ws = workspace();
    let manifest = format!(
        "[package]\nname = \"lt_downstream\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
         [dependencies]\nlamellar-transport = {{ path = {:?}, features = [{}] }}\n\n\
         [build-dependencies]\nbuild-support = {{ path = {:?} }}\n\n[workspace]\n",
        ws.join("lamellar-transport").display().to_string(),
        features.join(", "),
        ws.join("build-support").display().to_string(),
    );
    std::fs::write(app.join("Cargo.toml"), manifest).unwrap();
    std::fs::write(app.join("build.rs"), BUILD_RS).unwrap();
    std::fs::write(app.join("src/main.rs"), MAIN_RS).unwrap();
    // The versions the workspace resolved and downloaded: the build stays offline.
    std::fs::copy(ws.join("Cargo.lock"), app.join("Cargo.lock")).unwrap();
    let target = ws.join("target").join("lt-downstream");
    let mut build = Command::new(env!("CARGO"));
    build
        .args(["build", "--offline", "--manifest-path"])
        .arg(app.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target);
    for (var, dir, on) in
        [("OFI_DIR", &ofi_dir, rofi), ("UCX_DIR", &ucx_dir, ucx), ("PMIX_DIR", &pmix_dir, pmix)]
    {
        if on {
            build.env(var, dir)
        } else {
            build.env_remove(var)
        };
    }
    let out = build
        .env_remove("ROFI_DIR")
        .env_remove("LD_LIBRARY_PATH")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "build failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let bin = target.join("debug").join("lt_downstream");

    if rofi {
        let stdout = run(singleton(&bin, "rofi").env("ROFI_PROVIDER", "shm"));
        assert_from(&stdout, "libfabric.so", &ofi_dir);
    }
    if ucx {
        let stdout = run(singleton(&bin, "ucx").env("UCX_TLS", "self,sm"));
        assert_from(&stdout, "libucp.so", &ucx_dir);
        assert_from(&stdout, "libucs.so", &ucx_dir);
    }
    if pmix {
        // Open MPI's mpirun serves its PEs over PMIx: libpmix comes from the PMIX_DIR the
        // program was built with, not from the loader's default path.
        let mut mpirun = Command::new("mpirun.openmpi");
        mpirun.args(["--oversubscribe", "--allow-run-as-root", "-n", "2"]).arg(&bin).arg("shmem");
        let stdout = run(&mut mpirun);
        let paths: Vec<&str> =
            stdout.lines().filter_map(|l| l.strip_prefix("libpmix.so=")).collect();
        assert_eq!(paths.len(), 2, "one report per PE:\n{stdout}");
        for p in paths {
            assert!(
                p.starts_with(&pmix_dir.join("lib").display().to_string()),
                "libpmix from {}, not {p}",
                pmix_dir.display()
            );
        }
    }
}
