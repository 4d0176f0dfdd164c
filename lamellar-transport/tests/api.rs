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
