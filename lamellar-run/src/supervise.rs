//! Spawning and supervising the PEs of one job.

use crate::pmi_server::PmiServer;
use lamellar_bootstrap::shm_prefix;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

/// What to run.
#[derive(Clone, Debug)]
pub struct JobSpec {
    pub pes: usize,
    pub program: OsString,
    pub args: Vec<OsString>,
    /// Kill the job after this long.
    pub timeout: Option<Duration>,
    /// Prefix every output line with `[pe N] `.
    pub label: bool,
    /// Extra environment for every PE.
    pub env: Vec<(OsString, OsString)>,
    /// Time between TERM and KILL when bringing the job down.
    pub grace: Duration,
    /// Pin PE i (and every thread it starts) to the i-th CPU this launcher may run on, round
    /// robin (hydra's `-bind-to core`). Off by default, as in hydra.
    pub bind_cores: bool,
    /// Append every PE's standard output to this file instead of the launcher's (a program
    /// that reads a job's output, e.g. lamellar-bench compare reading ofi-baseline's rows).
    pub stdout_to: Option<std::path::PathBuf>,
}

impl JobSpec {
    pub fn new(pes: usize, program: impl Into<OsString>) -> JobSpec {
        JobSpec {
            pes,
            program: program.into(),
            args: Vec::new(),
            timeout: None,
            label: false,
            env: Vec::new(),
            grace: Duration::from_secs(2),
            bind_cores: false,
            stdout_to: None,
        }
    }
}

/// How the job ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobOutcome {
    /// The exit code for the launcher: 0, the first failing PE's code (128 + signal if it
    /// was killed), or 124 on timeout.
    pub code: i32,
    /// Why the job failed, naming the PE, if it did.
    pub failure: Option<String>,
}

/// The value of a `--bind-to` flag (lamellar-run, lamellar-bench): whether to pin PEs.
pub fn parse_bind_to(value: &str) -> Result<bool, String> {
    match value {
        "core" => Ok(true),
        "none" => Ok(false),
        other => Err(format!("--bind-to {other:?}: expected core or none")),
    }
}

/// The CPUs this process may run on, in order.
fn allowed_cpus() -> std::io::Result<Vec<usize>> {
    // SAFETY: cpu_set_t is plain data; sched_getaffinity writes at most its size.
    let set = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        set
    };
    // SAFETY: CPU_ISSET reads within the set for any cpu < CPU_SETSIZE.
    Ok((0..libc::CPU_SETSIZE as usize).filter(|&c| unsafe { libc::CPU_ISSET(c, &set) }).collect())
}

/// A CPU set holding only `cpu` (< CPU_SETSIZE: it came from `allowed_cpus`).
fn one_cpu(cpu: usize) -> libc::cpu_set_t {
    // SAFETY: zeroed is a valid empty set; CPU_SET writes within it for cpu < CPU_SETSIZE.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        set
    }
}

/// Exit code on `--timeout`, as coreutils' timeout(1).
pub const TIMEOUT_CODE: i32 = 124;

/// Set by SIGINT, SIGTERM, SIGHUP or SIGQUIT to the launcher: bring the job down.
static SIGNALLED: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    SIGNALLED.store(sig, Ordering::SeqCst);
}

fn describe(status: ExitStatus) -> (i32, String) {
    match (status.code(), status.signal()) {
        (Some(c), _) => (c, format!("exited with status {c}")),
        (None, Some(s)) => (128 + s, format!("was killed by signal {s}")),
        _ => (1, "ended abnormally".to_string()),
    }
}

fn job_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("lr{}x{nanos:x}", std::process::id())
}

fn relay(
    pe: usize,
    from: impl std::io::Read + Send + 'static,
    to_stderr: bool,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(from).split(b'\n') {
            let Ok(line) = line else { return };
            let mut out: Box<dyn Write> = if to_stderr {
                Box::new(std::io::stderr().lock())
            } else {
                Box::new(std::io::stdout().lock())
            };
            let _ = write!(out, "[pe {pe}] ");
            let _ = out.write_all(&line);
            let _ = out.write_all(b"\n");
        }
    })
}

fn signal_all(children: &mut [(usize, Child, Option<ExitStatus>)], sig: i32) {
    for (_, c, st) in children.iter_mut().filter(|(_, _, st)| st.is_none()) {
        let _ = st;
        // SAFETY: kill on the child's own process group (it called setpgid(0,0) before exec).
        unsafe { libc::kill(-(c.id() as i32), sig) };
    }
}

/// The one cleanup of a job: a shell beside the launcher, in its own session, holding the
/// read end of a pipe that only the launcher writes. When the pipe closes, because the job
/// ended or because the launcher died however it died (SIGKILL, a crash), the reaper kills
/// whatever is left in the PEs' process groups, waits for them, and removes what the job left
/// in /dev/shm: our `lt-<job>-` objects and libfabric's shm regions, named `<pid>:...`, of the
/// PEs. (PDEATHSIG has already killed the PEs themselves if the launcher died.)
struct Reaper {
    child: Child,
}

const REAPER: &str = r#"trap '' HUP INT TERM QUIT
read -r _
prefix=$1; shift
for p in "$@"; do kill -KILL -- "-$p" 2>/dev/null; done
i=0
while [ $i -lt 200 ]; do
    alive=
    for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ -z "$alive" ] && break
    sleep 0.05; i=$((i + 1))
done
for p in "$@"; do rm -f /dev/shm/"$p":*; done
rm -f /dev/shm/"$prefix"*
"#;

impl Reaper {
    fn start(kvsname: &str, pids: &[u32]) -> std::io::Result<Reaper> {
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c").arg(REAPER).arg("lamellar-run-reaper").arg(shm_prefix(kvsname));
        cmd.args(pids.iter().map(u32::to_string))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: setsid is async-signal-safe; it takes the reaper out of the launcher's
        // process group and terminal, so a signal to either spares it.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(|e| {
            std::io::Error::new(e.kind(), format!("cannot start the reaper (/bin/sh): {e}"))
        })?;
        Ok(Reaper { child })
    }

    /// The job ended under the launcher's eyes: clean up now, and wait until it is done.
    fn finish(mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// Runs the job to completion. Errors only if the launcher itself cannot start it.
pub fn run(spec: &JobSpec) -> std::io::Result<JobOutcome> {
    if spec.pes == 0 {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "need at least one PE"));
    }
    // SAFETY: installing an async-signal-safe handler that only stores to an atomic.
    unsafe {
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
            libc::signal(sig, on_signal as *const () as libc::sighandler_t);
        }
    }
    // SAFETY: getpid has no preconditions.
    let launcher = unsafe { libc::getpid() };
    let kvsname = job_name();
    let mut server_ends = Vec::new();
    let mut children: Vec<(usize, Child, Option<ExitStatus>)> = Vec::new();
    let mut relays = Vec::new();
    let start = Instant::now();
    let cpus = if spec.bind_cores { allowed_cpus()? } else { Vec::new() };
    for pe in 0..spec.pes {
        let cpu = (!cpus.is_empty()).then(|| cpus[pe % cpus.len()]);
        let (server, client) = UnixStream::pair()?;
        server_ends.push(server);
        let fd = client.as_raw_fd();
        let mut cmd = Command::new(&spec.program);
        cmd.args(&spec.args)
            .env("PMI_FD", fd.to_string())
            .env("PMI_RANK", pe.to_string())
            .env("PMI_SIZE", spec.pes.to_string())
            .env("LAMELLAR_RUN_KVSNAME", &kvsname);
        for (k, v) in &spec.env {
            cmd.env(k, v);
        }
        if spec.label {
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        }
        if let Some(path) = &spec.stdout_to {
            cmd.stdout(std::fs::OpenOptions::new().create(true).append(true).open(path)?);
        }
        // SAFETY: between fork and exec we call only async-signal-safe functions (plain
        // system calls on values computed before the fork): the PE dies with the launcher
        // (PDEATHSIG, and at once if the launcher is already gone), gets the PMI descriptor,
        // its own process group, so that TERM and KILL reach anything it started too, and
        // its CPU if asked.
        unsafe {
            cmd.pre_exec(move || {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
                if libc::getppid() != launcher {
                    libc::_exit(128 + libc::SIGKILL);
                }
                let flags = libc::fcntl(fd, libc::F_GETFD);
                libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
                libc::setpgid(0, 0);
                if let Some(set) = cpu.map(one_cpu) {
                    if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0
                    {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                signal_all(&mut children, libc::SIGKILL);
                for (_, c, _) in children.iter_mut() {
                    let _ = c.wait();
                }
                return Err(std::io::Error::new(
                    e.kind(),
                    format!("cannot start {:?}: {e}", spec.program),
                ));
            }
        };
        drop(client);
        if spec.label {
            relays.push(relay(pe, child.stdout.take().expect("piped"), false));
            relays.push(relay(pe, child.stderr.take().expect("piped"), true));
        }
        children.push((pe, child, None));
    }
    let server = PmiServer::start(kvsname.clone(), server_ends)?;
    let pids: Vec<u32> = children.iter().map(|(_, c, _)| c.id()).collect();
    let reaper = match Reaper::start(&kvsname, &pids) {
        Ok(r) => r,
        Err(e) => {
            signal_all(&mut children, libc::SIGKILL);
            return Err(e);
        }
    };

    let mut failure: Option<(i32, String)> = None;
    let mut kill_at: Option<Instant> = None;
    loop {
        for (pe, child, status) in children.iter_mut().filter(|(_, _, s)| s.is_none()) {
            if let Some(st) = child.try_wait()? {
                *status = Some(st);
                if !st.success() && failure.is_none() && kill_at.is_none() {
                    let (code, why) = describe(st);
                    failure = Some((code, format!("PE {pe} (pid {}) {why}", child.id())));
                }
            }
        }
        let running = children.iter().filter(|(_, _, s)| s.is_none()).count();
        if running == 0 {
            break;
        }
        if kill_at.is_none() {
            let sig = SIGNALLED.load(Ordering::SeqCst);
            let timed_out = spec.timeout.is_some_and(|t| start.elapsed() >= t);
            if failure.is_none() && sig != 0 {
                failure = Some((
                    128 + sig,
                    format!("interrupted by signal {sig}; terminating {running} running PE(s)"),
                ));
            }
            if failure.is_none() && timed_out {
                let secs = spec.timeout.unwrap_or_default().as_secs_f64();
                failure = Some((
                    TIMEOUT_CODE,
                    format!("job timed out after {secs} s; terminating {running} running PE(s)"),
                ));
            }
            if failure.is_some() {
                signal_all(&mut children, libc::SIGTERM);
                kill_at = Some(Instant::now() + spec.grace);
            }
        } else if kill_at.is_some_and(|k| Instant::now() >= k) {
            signal_all(&mut children, libc::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    drop(children);
    server.join();
    for r in relays {
        let _ = r.join();
    }
    reaper.finish();
    Ok(match failure {
        Some((code, why)) => JobOutcome { code, failure: Some(why) },
        None => JobOutcome { code: 0, failure: None },
    })
}
