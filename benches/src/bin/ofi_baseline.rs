//! `ofi-baseline`: raw libfabric (fi_write / fi_read / fi_fetch_atomic) on the provider in
//! ROFI_PROVIDER, one JSON line per measurement; the C program is benches/raw-ofi.
//! Run it as PEs: `ROFI_PROVIDER=shm lamellar-run -n 2 ofi-baseline`.

fn main() {
    std::process::exit(lamellar_bench::raw_ofi::main());
}
