//! Remembers `PMIX_DIR` from build time: libpmix is loaded at run time, and a site install
//! named when the program was built is searched before the system's (no LD_LIBRARY_PATH).

fn main() {
    println!("cargo:rerun-if-env-changed=PMIX_DIR");
    if let Ok(dir) = std::env::var("PMIX_DIR") {
        println!("cargo:rustc-env=LAMELLAR_PMIX_DIR_AT_BUILD={dir}");
    }
}
