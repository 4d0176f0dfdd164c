//! Mode `soak`: the random program over new seeds (from 2^32 up, each on fresh allocations)
//! for `LT_SOAK_SECS` seconds (default 3), then this PE's resources must be where they were
//! after a warm-up: resident memory, open descriptors, mappings and /dev/shm entries. A
//! leak per operation, per allocation or per scope shows as growth over thousands of them.

use crate::random_program::run_seed;
use lamellar_transport::Transport;
use std::time::{Duration, Instant};

const FIRST_SEED: u64 = 1 << 32;

/// Growth allowed from the end of the warm-up to the end of the run, per PE.
///
/// Resident memory: 4 MiB. Over shared memory it stays within 0.2 MiB, but over rofi (tcp)
/// it climbs by some 10 KiB a seed for the first ~1000 seeds (not libfabric's MR cache:
/// the same with FI_MR_CACHE_MAX_COUNT=0) and then stays put: a 3 s run climbs ~1.5 MiB
/// after its warm-up, and a long run's warm-up (a fifth of it, up to 2 min) covers the
/// climb. A leak of 1 KiB a seed still fails a 10-minute run (thousands of seeds).
/// Descriptors and mappings: the bounds of the heap case (a backend may open one late, a
/// thread's malloc arena maps more); none moved in any backend's runs. /dev/shm: none.
const RSS_SLACK_KB: u64 = 4 << 10;
const FD_SLACK: usize = 2;
const MAPS_SLACK: usize = 8;
const SHM_SLACK: usize = 0;

#[derive(Clone, Copy, Debug)]
struct Sample {
    rss_kb: u64,
    fds: usize,
    maps: usize,
    shm: usize,
}

fn sample(pids: &[u64]) -> Sample {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let rss = status.lines().find_map(|l| l.strip_prefix("VmRSS:")).expect("VmRSS");
    Sample {
        rss_kb: rss.trim().trim_end_matches("kB").trim().parse().unwrap(),
        fds: std::fs::read_dir("/proc/self/fd").unwrap().count(),
        maps: std::fs::read_to_string("/proc/self/maps").unwrap().lines().count(),
        shm: shm_entries(pids),
    }
}

/// This job's entries in /dev/shm, not the whole directory (other jobs on the machine come
/// and go meanwhile): the shmem backend's, `lt-<job id>-...` (lamellar-run names the job in
/// `LAMELLAR_RUN_KVSNAME`; the id keeps its ASCII letters and digits), and libfabric shm's,
/// `<pid>:...` for the pid of every PE. (UCX unlinks its names at once.)
fn shm_entries(pids: &[u64]) -> usize {
    let job = std::env::var("LAMELLAR_RUN_KVSNAME").ok().map(|k| {
        let id: String =
            k.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).take(48).collect();
        lamellar_transport::shmem_prefix(&id)
    });
    let pids: Vec<String> = pids.iter().map(|p| format!("{p}:")).collect();
    let ours = |n: &str| {
        job.as_ref().is_some_and(|j| n.starts_with(j.as_str()))
            || pids.iter().any(|p| n.starts_with(p.as_str()))
    };
    let dir = std::fs::read_dir("/dev/shm").unwrap();
    dir.flatten().filter(|e| ours(&e.file_name().to_string_lossy())).count()
}

/// What PE 0 tells everyone after a seed (one word, put to each PE before a barrier).
const GO_ON: u64 = 0;
const WARM: u64 = 1;
const STOP: u64 = 2;

pub fn run(t: &Transport) {
    let (me, n) = (t.my_pe(), t.num_pes());
    let secs: f64 = std::env::var("LT_SOAK_SECS").map_or(3.0, |s| s.parse().expect("LT_SOAK_SECS"));
    // A fifth of the run, 1 s to 2 min: caches and pools have filled by then (see above).
    let warm_up = Duration::from_secs_f64((secs / 5.0).clamp(1.0, 120.0));
    let total = Duration::from_secs_f64(secs).max(warm_up + Duration::from_secs(1));
    let say = t.alloc_array::<u64>(1).unwrap();
    // Every PE's pid, for the /dev/shm names that carry one.
    let pid_words = t.alloc_array::<u64>(n).unwrap();
    (0..n).for_each(|pe| pid_words.put(pe, me, &[std::process::id() as u64]).unwrap());
    t.barrier().unwrap();
    let pids: Vec<u64> = (0..n).map(|i| pid_words.local_load(i).unwrap()).collect();
    let start = Instant::now();
    // PE 0 reports ten times a run (every minute of a 10-minute one).
    let every = (secs / 10.0).max(1.0);
    let (mut seed, mut base, mut report) = (FIRST_SEED, None, every);
    let end = loop {
        run_seed(t, seed);
        seed += 1;
        // One decision for all: every PE must run the same seeds (allocations are collective).
        if me == 0 {
            let word = match (start.elapsed(), base.is_some()) {
                (e, false) if e >= warm_up && seed - FIRST_SEED >= 3 => WARM,
                (e, true) if e >= total => STOP,
                _ => GO_ON,
            };
            (0..n).for_each(|pe| say.put(pe, 0, &[word]).unwrap());
        }
        t.barrier().unwrap();
        let word = say.local_load(0).unwrap();
        let now = sample(&pids);
        if me == 0 && start.elapsed().as_secs_f64() >= report {
            println!("soak: {report:.0} s, {} seeds, {now:?}", seed - FIRST_SEED);
            report += every;
        }
        match word {
            WARM => base = Some((now, seed - FIRST_SEED, start.elapsed())),
            STOP => break now,
            _ => {}
        }
    };
    let (seeds, took) = (seed - FIRST_SEED, start.elapsed());
    let (b, warm_seeds, warm_took) = base.expect("STOP comes after WARM");
    println!(
        "soak: PE {me}: {seeds} seeds in {:.1} s; after warm-up ({warm_seeds} seeds, {:.1} s) -> end: VmRSS {} -> {} kB, fds {} -> {}, maps {} -> {}, /dev/shm {} -> {}",
        took.as_secs_f64(),
        warm_took.as_secs_f64(),
        b.rss_kb,
        end.rss_kb,
        b.fds,
        end.fds,
        b.maps,
        end.maps,
        b.shm,
        end.shm
    );
    let grew = |what: &str, from: u64, to: u64, slack: u64| {
        assert!(
            to <= from + slack,
            "soak: PE {me}: {what} grew from {from} to {to} (slack {slack}) over {} seeds after warm-up",
            seeds - warm_seeds
        );
    };
    grew("VmRSS (kB)", b.rss_kb, end.rss_kb, RSS_SLACK_KB);
    grew("open descriptors", b.fds as u64, end.fds as u64, FD_SLACK as u64);
    grew("mappings", b.maps as u64, end.maps as u64, MAPS_SLACK as u64);
    grew("/dev/shm entries", b.shm as u64, end.shm as u64, SHM_SLACK as u64);
    t.barrier().unwrap();
    pid_words.free().unwrap();
    say.free().unwrap();
}
