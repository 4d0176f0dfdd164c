//! The conformance suite. Run by `cargo test`; this one binary is both the driver and the PE
//! program: the driver launches it as PEs (under lamellar-run at P = 1..4, under MPICH's
//! mpiexec when installed, and alone as a singleton) for every compiled backend and
//! provider, and checks exit status, error reporting and /dev/shm hygiene.
//!
//! `cargo test --test conformance -- FILTER` runs only the runs whose name contains FILTER.

mod asyncs;
mod cases;
mod collectives;
mod driver;
mod heap;
mod messaging;
mod random_program;
mod soak;

use lamellar_transport::{ErrorKind, Transport};

fn main() {
    if std::env::var_os("LT_CONFORMANCE_PE").is_some() {
        pe_main();
    } else {
        std::process::exit(driver::main());
    }
}

/// One PE: run every case in order; a failed assertion panics, which fails the job.
fn pe_main() {
    let mode = std::env::var("LT_CONFORMANCE_MODE").unwrap_or_default();
    if mode == "yield" {
        return yield_main();
    }
    if mode == "init_fails" {
        // A job across hosts on a backend that cannot leave its node: init says so, naming
        // the hosts, instead of waiting out a timeout.
        let e = Transport::init().err().expect("init across hosts must fail on this backend");
        assert_eq!(e.kind(), ErrorKind::BackendUnavailable, "{e}");
        let msg = e.to_string();
        assert!(msg.contains("lt-h1") || msg.contains("lt-h2"), "error names no host: {msg}");
        println!("init_fails: {msg}");
        return;
    }
    if mode == "init_error" {
        // A bad setting or an unservable launcher: init fails with this kind, naming this.
        let want = std::env::var("LT_EXPECT_ERROR").expect("LT_EXPECT_ERROR=Kind|text");
        let (kind, text) = want.split_once('|').expect("Kind|text");
        let e = Transport::init().err().unwrap_or_else(|| panic!("init must fail ({want})"));
        assert_eq!(format!("{:?}", e.kind()), kind, "{e}");
        assert!(e.to_string().contains(text), "{e:?} should name {text}");
        println!("init_error: {e}");
        return;
    }
    let t = Transport::init().unwrap_or_else(|e| panic!("init failed: {e}"));
    let me = t.my_pe();
    // A host of the test bed has CPUs of its own (netns-hosts.sh): its PEs yield exactly
    // when they outnumber them, though the machine's other hosts run on other CPUs.
    if let Ok(y) = std::env::var("LT_EXPECT_YIELD") {
        assert_eq!(t.yields_when_waiting(), y == "1", "PE {me}: waits yield (LT_EXPECT_YIELD={y})");
    }
    if let Some(n) = std::env::var("LT_EXPECT_NODES").ok().and_then(|n| n.parse::<usize>().ok()) {
        assert_eq!(t.nodes(), n, "nodes seen by PE {me}");
        let mine = t.node_of(me).unwrap();
        assert_eq!(t.local_pes().len(), t.num_pes() / n, "PE {me}: local PEs {:?}", t.local_pes());
        assert!(t.local_pes().iter().all(|&p| t.node_of(p).unwrap() == mine));
        assert!(t.host_of(me).unwrap().starts_with("lt-h"), "PE {me} on {:?}", t.host_of(me));
    }
    // Which path each pair takes, from the transport's own routing (the driver says what
    // this configuration must do).
    let paths = std::env::var("LT_EXPECT_PATHS").expect("LT_EXPECT_PATHS from the driver");
    for pe in 0..t.num_pes() {
        let same_node = t.node_of(pe).unwrap() == t.node_of(me).unwrap();
        let shared = match paths.as_str() {
            "shared" => true,
            "by-node" => same_node,
            "network-but-self" => pe == me,
            "network" => false,
            other => panic!("LT_EXPECT_PATHS={other}"),
        };
        let want = if shared {
            lamellar_transport::PeerPath::SharedMemory
        } else {
            lamellar_transport::PeerPath::Network
        };
        assert_eq!(
            t.path_to(pe).unwrap(),
            want,
            "PE {me} -> PE {pe} (LT_EXPECT_PATHS={paths}, same node: {same_node})"
        );
    }
    assert_eq!(t.path_to(t.num_pes()).unwrap_err().kind(), ErrorKind::BadPe);
    match mode.as_str() {
        "" => {
            for (name, case) in cases::all()
                .into_iter()
                .chain(messaging::all())
                .chain(collectives::all())
                .chain(heap::all())
                .chain(asyncs::all())
                .chain(random_program::all())
            {
                case(&t);
                t.barrier().unwrap_or_else(|e| panic!("barrier after {name}: {e}"));
                if me == 0 {
                    println!("conformance case {name}: ok");
                }
            }
            t.finalize().unwrap();
        }
        // PE 1 panics; the launcher must fail the job and name it.
        "panic" => {
            if me == 1 {
                panic!("deliberate panic on PE 1");
            }
            let _ = t.barrier();
            std::thread::sleep(std::time::Duration::from_secs(600));
        }
        // PE 1 leaves without a word (exit 0, no finalize); PE 0's barrier must end in an
        // error — PeerFailed where the backend can tell, else Timeout — not hang.
        "peer_exit" => {
            if me == 1 {
                std::process::exit(0);
            }
            let e = t.barrier().expect_err("barrier with a departed peer must fail");
            assert!(matches!(e.kind(), ErrorKind::PeerFailed | ErrorKind::Timeout), "{e}");
            println!("peer_exit: got {e}");
            // A collective finalize cannot succeed without the peer: leave directly.
            std::process::exit(0);
        }
        // Only the threads case, under a short limit: a quiet starved by the posts it waits
        // for (ROFI's unfair lock once kept them out for seconds) ends in Timeout and fails.
        "async_slow_peer" => {
            asyncs::slow_peer(&t);
            t.finalize().unwrap();
        }
        // Only the random program, over LT_RANDOM_SEED_START and LT_RANDOM_SEEDS (a count).
        "random" => {
            random_program::seeds_from_env(&t);
            t.finalize().unwrap();
        }
        // The random program for LT_SOAK_SECS, then resources as after the warm-up.
        "soak" => {
            soak::run(&t);
            t.finalize().unwrap();
        }
        "threads" => {
            cases::threads_issue_and_quiet(&t);
            t.barrier().unwrap();
            t.finalize().unwrap();
        }
        // PE 1 leaves without a word while PE 0 has gets, atomics and non-blocking puts and
        // gets to it in flight: each of PE 0's calls succeeds or fails with PeerFailed or
        // Timeout, and a barrier after 2 s of them fails so; never an abort, a crash or a hang.
        "peer_leaves_mid_ops" => {
            let a = t.alloc(1 << 20).unwrap();
            let w = t.alloc_array::<u64>(1).unwrap();
            t.barrier().unwrap();
            if me == 1 {
                std::thread::sleep(std::time::Duration::from_millis(50));
                // SAFETY: _exit ends the process at once, as a crash would (no destructors).
                unsafe { libc::_exit(0) };
            }
            let (src, mut back, mut word) = (vec![7u8; 1 << 20], vec![0u8; 1 << 20], [0u8; 8]);
            let start = std::time::Instant::now();
            let mut rounds = 0;
            let failed = loop {
                let round = std::time::Instant::now();
                let r = (|| {
                    a.get(1, 0, &mut word)?;
                    w.fetch_add(1, 0, 1)?;
                    t.scope(|s| {
                        let p = s.put_nb(&a, 1, 0, &src)?;
                        let g = s.get_nb(&a, 1, 0, &mut back)?;
                        p.wait()?;
                        g.wait().map(drop)
                    })?
                })();
                rounds += 1;
                match r {
                    // A Timeout is one only when the limit has passed (LAMELLAR_TIMEOUT=5):
                    // a lost connection reported early is PeerFailed.
                    Err(e)
                        if e.kind() == ErrorKind::Timeout
                            && round.elapsed() < t.timeout().mul_f64(0.9) =>
                    {
                        panic!(
                            "Timeout after {:?} of a {:?} limit (should be PeerFailed): {e}",
                            round.elapsed(),
                            t.timeout()
                        )
                    }
                    Err(e) => break Some(e),
                    Ok(()) if start.elapsed() > std::time::Duration::from_secs(2) => break None,
                    Ok(()) => {}
                }
            };
            let e = failed.unwrap_or_else(|| {
                t.barrier().expect_err("barrier with a departed peer must fail")
            });
            assert!(
                matches!(e.kind(), ErrorKind::PeerFailed | ErrorKind::Timeout),
                "after {rounds} rounds: {e}"
            );
            println!("peer_leaves_mid_ops: after {rounds} rounds: {e}");
            std::process::exit(0);
        }
        // PE 1 never receives. PE 0's send into its full ring ends in Timeout after the
        // limit (LAMELLAR_TIMEOUT=1); a message that stopped part-way (its first slot sent)
        // makes every later send to PE 1 fail at once with PeerFailed, so that no later
        // message is taken as its rest.
        "mailbox_stalled_receiver" => {
            let mb = t.mailbox_with(2, 64).unwrap();
            t.barrier().unwrap();
            if me == 1 {
                std::thread::sleep(t.timeout() * 4);
                std::process::exit(0);
            }
            mb.send(1, b"one slot").unwrap();
            let start = std::time::Instant::now();
            let e = mb
                .send(1, &[7u8; 100])
                .expect_err("a send of 3 slots into a ring with one free must time out");
            assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
            assert!(
                start.elapsed() >= t.timeout().mul_f64(0.9),
                "Timeout after {:?}",
                start.elapsed()
            );
            let start = std::time::Instant::now();
            let e = mb
                .send(1, b"short")
                .expect_err("a send after a message stopped part-way must fail");
            assert_eq!(e.kind(), ErrorKind::PeerFailed, "{e}");
            assert!(start.elapsed() < t.timeout() / 2, "PeerFailed after {:?}", start.elapsed());
            // Sending to itself is unaffected.
            mb.send(0, b"to me").unwrap();
            assert_eq!(mb.recv().unwrap(), (0, b"to me".to_vec()));
            println!("mailbox_stalled_receiver: {e}");
            std::process::exit(0);
        }
        // PE 0 drops an allocation without `free` while PE 1 still puts to it: only PE 0's
        // own resources go, and nothing PE 1 sends may land in memory PE 0 gave back (UCX
        // over tcp writes a put where its header says, without a key check: the region must
        // stay mapped while the worker can still receive). PE 1's puts succeed or fail with
        // an error; neither PE crashes.
        "drop_while_peer_puts" => {
            let a = t.alloc(1 << 20).unwrap();
            t.barrier().unwrap();
            if me == 0 {
                drop(a);
            } else {
                let src = vec![7u8; 1 << 20];
                for _ in 0..8 {
                    match a.put(0, 0, &src) {
                        Ok(()) => {}
                        Err(e) => {
                            assert!(
                                matches!(e.kind(), ErrorKind::Backend | ErrorKind::PeerFailed),
                                "{e}"
                            );
                            println!("drop_while_peer_puts: put got {e}");
                            break;
                        }
                    }
                }
                let _ = t.quiet();
            }
            t.barrier().unwrap();
            t.finalize().unwrap();
        }
        // PE 1 stays alive but never puts the flag nor arrives; PE 0's wait_until and barrier
        // must both end in Timeout.
        "timeout" => {
            let a = t.alloc(8).unwrap();
            if me == 1 {
                std::thread::sleep(std::time::Duration::from_secs(5));
                std::process::exit(0);
            }
            let e = a
                .wait_until(0, |v: u64| v == 1)
                .expect_err("wait_until for a flag never put must fail");
            assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
            println!("timeout: wait_until got {e}");
            let e = t.barrier().expect_err("barrier with a silent peer must fail");
            assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
            println!("timeout: got {e}");
            std::process::exit(0);
        }
        other => panic!("unknown LT_CONFORMANCE_MODE {other}"),
    }
}

/// Waits yield only on an oversubscribed node, unless `LAMELLAR_YIELD` (and, for ROFI's own
/// waits, `ROFI_YIELD`) says otherwise. Run unbound on one machine, where every PE may use
/// the same CPUs: the node is oversubscribed exactly when P exceeds their number. PE 1
/// forces yielding, PE 2 forbids it: PEs with different settings must still initialize
/// together, and PE 0 keeps the automatic decision.
fn yield_main() {
    let rank: usize = std::env::var("PMI_RANK").ok().and_then(|r| r.parse().ok()).unwrap_or(0);
    let setting = match rank {
        1 => Some("1"),
        2 => Some("0"),
        _ => None,
    };
    for var in ["LAMELLAR_YIELD", "ROFI_YIELD"] {
        // SAFETY: no other thread exists yet (the transport, which starts them, is not up).
        unsafe {
            match setting {
                Some(v) => std::env::set_var(var, v),
                None => std::env::remove_var(var),
            }
        }
    }
    // SAFETY: cpu_set_t is plain bits; sched_getaffinity writes at most its size.
    let cpus = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        assert_eq!(libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set), 0);
        libc::CPU_COUNT(&set) as usize
    };
    let t = Transport::init().unwrap_or_else(|e| panic!("init failed: {e}"));
    let n = t.num_pes();
    let want = match setting {
        Some(v) => v == "1",
        None => n > cpus,
    };
    assert_eq!(t.yields_when_waiting(), want, "PE {} of {n} on {cpus} CPUs", t.my_pe());
    // Waits work either way: everyone waits in a barrier for a late PE 0.
    if t.my_pe() == 0 {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    t.barrier().unwrap();
    println!("yield: PE {} of {n} on {cpus} CPUs yields {want}", t.my_pe());
    t.finalize().unwrap();
}
