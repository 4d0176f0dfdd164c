//! The conformance suite. Run by `cargo test`; this one binary is both the driver and the PE
//! program: the driver launches it as PEs (under lamellar-run at P = 1..4, under MPICH's
//! mpiexec when installed, and alone as a singleton) for every compiled backend and
//! provider, and checks exit status, error reporting and /dev/shm hygiene.
//!
//! `cargo test --test conformance -- FILTER` runs only the runs whose name contains FILTER.

mod cases;
mod driver;

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
    let t = Transport::init().unwrap_or_else(|e| panic!("init failed: {e}"));
    let me = t.my_pe();
    match mode.as_str() {
        "" => {
            for (name, case) in cases::all() {
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
        // PE 1 stays alive but never puts the flag nor arrives; PE 0's wait_until and barrier
        // must both end in Timeout.
        "timeout" => {
            let a = t.alloc(8).unwrap();
            if me == 1 {
                std::thread::sleep(std::time::Duration::from_secs(5));
                std::process::exit(0);
            }
            let e = a.wait_until(0, |v: u64| v == 1).expect_err("wait_until for a flag never put must fail");
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
