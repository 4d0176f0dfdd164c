//! `ofi-baseline`: raw libfabric (fi_write / fi_read / fi_fetch_atomic) on the provider in
//! ROFI_PROVIDER, one JSON line per measurement; the C program is benches/raw-ofi.
//! Run it as PEs: `ROFI_PROVIDER=shm lamellar-run -n 2 ofi-baseline`.

unsafe extern "C" {
    fn ofi_baseline_main() -> std::ffi::c_int;
}

fn main() {
    // SAFETY: the C program's main, taking no arguments; it returns an exit status.
    std::process::exit(unsafe { ofi_baseline_main() });
}
