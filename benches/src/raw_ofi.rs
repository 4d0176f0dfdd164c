//! The raw libfabric baseline (benches/raw-ofi/ofi_baseline.c, compiled by build.rs): libfabric
//! doing what the rofi backend does, with no ROFI in between.

unsafe extern "C" {
    /// The C program's `main`, renamed by build.rs.
    fn ofi_baseline_main() -> std::ffi::c_int;
}

/// Runs the C program (one PE of a job: it reads PMI_* and ROFI_PROVIDER from the
/// environment) and returns its exit status.
pub fn main() -> i32 {
    // SAFETY: the C program's main takes no arguments and returns an exit status; it is called
    // once per process (the `ofi-baseline` binary's whole run).
    unsafe { ofi_baseline_main() }
}
