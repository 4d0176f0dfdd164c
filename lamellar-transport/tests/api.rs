//! API behaviour that needs no launcher: backend selection errors, and a singleton job.

use lamellar_transport::{ErrorKind, Transport};

#[test]
fn unknown_backend_is_named() {
    let e = Transport::builder().backend("carrier-pigeon").init().err().unwrap();
    assert_eq!(e.kind(), ErrorKind::BackendUnavailable);
    assert!(e.to_string().contains("known: shmem, rofi, ucx"), "{e}");
}

#[test]
fn backend_not_compiled_in_names_the_feature() {
    for (name, feature) in lamellar_transport::BACKENDS {
        if lamellar_transport::compiled_backends().contains(&name) {
            continue;
        }
        let e = Transport::builder().backend(name).init().err().unwrap();
        assert_eq!(e.kind(), ErrorKind::BackendUnavailable);
        assert!(e.to_string().contains(&format!("cargo feature \"{feature}\"")), "{e}");
    }
}

#[test]
fn a_zero_timeout_is_an_invalid_argument() {
    let e = Transport::builder().timeout(std::time::Duration::ZERO).init().err().unwrap();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
}

/// A singleton shmem job: `wait_until` returns the value that satisfied the predicate, and
/// waiting for a flag nobody puts ends in `Timeout` after the builder's timeout.
#[test]
fn wait_until_returns_value_and_times_out() {
    let limit = std::time::Duration::from_millis(300);
    let t = Transport::builder().backend("shmem").timeout(limit).init().unwrap();
    assert_eq!(t.timeout(), limit);
    let a = t.alloc(16).unwrap();
    a.put(0, 8, &7u64.to_ne_bytes()).unwrap();
    t.quiet().unwrap();
    assert_eq!(a.wait_until(8, |v: u64| v > 5).unwrap(), 7);
    let start = std::time::Instant::now();
    let e = a.wait_until(8, |v: u64| v == 8).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(start.elapsed() >= limit, "gave up after {:?}, before the timeout", start.elapsed());
    a.free().unwrap();
    t.finalize().unwrap();
}

/// Every wait the runtime pieces add ends in `Timeout` when nothing comes: a signal nobody
/// sets, words nobody writes, a message nobody sends.
#[test]
fn signal_word_and_message_waits_time_out() {
    use lamellar_transport::Cmp;
    let limit = std::time::Duration::from_millis(200);
    let t = Transport::builder().backend("shmem").timeout(limit).init().unwrap();
    let a = t.alloc(16).unwrap();
    let mb = t.mailbox().unwrap();
    type Wait<'a> = Box<dyn Fn() -> lamellar_transport::Result<()> + 'a>;
    let waits: Vec<(&str, Wait<'_>)> = vec![
        ("signal_wait_until", Box::new(|| a.signal_wait_until(0, Cmp::Eq, 1).map(drop))),
        ("wait_until_any", Box::new(|| a.wait_until_any(&[0, 8], Cmp::Gt, 0).map(drop))),
        ("wait_until_all", Box::new(|| a.wait_until_all(&[0, 8], Cmp::Eq, 9))),
        ("wait_until_some", Box::new(|| a.wait_until_some(&[0, 8], Cmp::Ne, 0).map(drop))),
        ("Mailbox::recv", Box::new(|| mb.recv().map(drop))),
    ];
    for (name, wait) in waits {
        let start = std::time::Instant::now();
        let e = wait().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Timeout, "{name}: {e}");
        assert!(start.elapsed() >= limit, "{name} gave up after {:?}", start.elapsed());
    }
    assert!(mb.try_recv().unwrap().is_none());
    mb.free().unwrap();
    a.free().unwrap();
    t.finalize().unwrap();
}
